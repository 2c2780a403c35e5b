// The coordinator with a real store and topic manager in one process, where
// the flush of __consumer_offsets is under the test's control.

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <future>
#include <random>
#include <thread>

#include "broker/group/group_coordinator.h"

using namespace cairn;
using namespace cairn::broker;

namespace {

// A broker's store, topics and groups, without gRPC. Syncs happen only when
// a test calls flush_offsets() (interval policy, flush.ms of an hour), so
// commits stay pending until then.
struct Broker {
  std::string dir;
  asio::io_context io;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<TopicManager> topics;
  std::unique_ptr<GroupCoordinator> groups;
  storage::ManualClock wall;  // the coordinator's wall clock

  Broker() {
    std::random_device rd;
    dir = (std::filesystem::temp_directory_path() / ("cairn-groups-" + std::to_string(rd()))).string();
    open();
  }
  ~Broker() {
    close();
    std::filesystem::remove_all(dir);
  }

  void open() {
    storage::StoreOptions options;
    options.data_dir = dir;
    options.retention_check_interval_ms = 0;
    store = std::move(storage::Store::open(options)).value();
    auto defaults = storage::LogConfig().with({{"flush.policy", "interval"}, {"flush.ms", "3600000"}});
    topics = std::move(TopicManager::open(*store, dir + "/.topics", *defaults, 64 << 20)).value();
    GroupCoordinatorOptions group_options;
    group_options.clock = &wall;
    group_options.sweep_interval_ms = 20;
    groups = std::move(GroupCoordinator::open(*topics, io, group_options)).value();
    topics->set_removal_listener([g = groups.get()](const std::string& topic) { g->forget_topic(topic); });
  }
  void close() {
    if (!store) return;
    groups.reset();
    topics.reset();
    REQUIRE(store->close().ok());
    store.reset();
  }

  void flush_offsets() {
    auto offsets = topics->topic(GroupCoordinator::kOffsetsTopic);
    REQUIRE(offsets);
    for (const auto& p : offsets->partitions) REQUIRE(p->commit_now().ok());
  }

  // Commits from outside the group (allowed while it has no members).
  std::shared_ptr<Status> commit(const std::string& group, const TopicPartition& tp, int64_t offset) {
    auto result = std::make_shared<Status>(ErrorCode::unknown, "pending");
    groups->commit(group, "", 0, {{tp, {offset, "", 0}}}, [result](Status s) { *result = s; });
    return result;
  }

  std::optional<int64_t> committed(const std::string& group, const TopicPartition& tp) {
    auto offsets = groups->committed(group);
    REQUIRE(offsets.ok());
    auto it = offsets->find(tp);
    return it == offsets->end() ? std::nullopt : std::optional<int64_t>(it->second.offset);
  }
};

}  // namespace

TEST_CASE("RemovingTheOffsetsTopicWithCommitsPendingDoesNotBlockLookups", "[groups]") {
  Broker broker;
  REQUIRE(broker.topics->create("t", 1, {}).ok());
  // The commit completes when removing __consumer_offsets closes its log. From
  // that callback another thread heartbeats: the coordinator's mutex, then a
  // topic lookup. If remove() still held the topic lock, that would wait on
  // this thread, which waits on it: the lock-order cycle.
  std::future_status heartbeat_finished = std::future_status::deferred;
  Status committed(ErrorCode::unknown, "pending");
  broker.groups->commit("g", "", 0, {{{"t", 0}, {5, "", 0}}}, [&](Status s) {
    committed = s;
    auto heartbeat = std::async(std::launch::async, [&] {
      HeartbeatInput join;
      join.topics = {"t"};
      return broker.groups->heartbeat("other", join).ok();
    });
    heartbeat_finished = heartbeat.wait_for(std::chrono::seconds(2));
  });
  REQUIRE(broker.topics->remove(GroupCoordinator::kOffsetsTopic).ok());
  CHECK(committed.ok());
  CHECK(heartbeat_finished == std::future_status::ready);
}

TEST_CASE("DeletingATopicForgetsEveryGroupsOffsetsForIt", "[groups]") {
  Broker broker;
  REQUIRE(broker.topics->create("t", 1, {}).ok());
  REQUIRE(broker.topics->create("kept", 1, {}).ok());
  auto applied = broker.commit("early", {"t", 0}, 5);
  auto kept = broker.commit("early", {"kept", 0}, 3);
  broker.flush_offsets();
  REQUIRE(applied->ok());
  REQUIRE(broker.committed("early", {"t", 0}) == 5);
  auto pending = broker.commit("late", {"t", 0}, 7);  // appended, not yet durable

  REQUIRE(broker.topics->remove("t").ok());
  broker.flush_offsets();
  CHECK(pending->ok());  // durable, answered, but its topic is gone
  REQUIRE(broker.topics->create("t", 1, {}).ok());
  CHECK(broker.committed("early", {"t", 0}) == std::nullopt);
  CHECK(broker.committed("late", {"t", 0}) == std::nullopt);
  CHECK(broker.committed("early", {"kept", 0}) == 3);

  // The log agrees: replaying it on restart brings neither back.
  broker.close();
  broker.open();
  CHECK(broker.committed("early", {"t", 0}) == std::nullopt);
  CHECK(broker.committed("late", {"t", 0}) == std::nullopt);
  CHECK(broker.committed("early", {"kept", 0}) == 3);
}

TEST_CASE("OffsetsOfATopicDeletedWhileDownAreForgottenAtStart", "[groups]") {
  Broker broker;
  REQUIRE(broker.topics->create("t", 1, {}).ok());
  auto committed = broker.commit("g", {"t", 0}, 5);
  broker.flush_offsets();
  REQUIRE(committed->ok());
  // As if the broker died after the registry forgot the topic but before the
  // tombstones were durable: the topic goes, the offsets stay in the log.
  broker.topics->set_removal_listener(nullptr);
  REQUIRE(broker.topics->remove("t").ok());
  broker.close();
  broker.open();
  REQUIRE(broker.topics->create("t", 1, {}).ok());
  CHECK(broker.committed("g", {"t", 0}) == std::nullopt);
}

TEST_CASE("CommitToAPartitionThatDoesNotExistIsRefused", "[groups]") {
  Broker broker;
  auto committed = broker.commit("g", {"nope", 0}, 5);
  CHECK(committed->code() == ErrorCode::unknown_topic_or_partition);
}

TEST_CASE("MemberCannotCommitToAPartitionMovedToAnother", "[groups]") {
  Broker broker;
  REQUIRE(broker.topics->create("t", 2, {}).ok());
  auto beat = [&](HeartbeatInput input) {
    input.topics = {"t"};
    auto out = broker.groups->heartbeat("g", input);
    REQUIRE(out.ok());
    return *out;
  };
  auto commit = [&](const HeartbeatOutput& member, const TopicPartition& tp) {
    Status result(ErrorCode::unknown, "pending");
    broker.groups->commit("g", member.member_id, member.member_epoch, {{tp, {1, "", 0}}},
                          [&](Status s) { result = s; });
    broker.flush_offsets();
    return result;
  };
  HeartbeatOutput a = beat({});
  a = beat({a.member_id, a.member_epoch, {}, "", a.assignment, "", 10'000});
  REQUIRE(a.assignment.size() == 2);
  HeartbeatOutput b = beat({});
  // A learns it loses one partition; while it still owns it, it may commit.
  a = beat({a.member_id, a.member_epoch, {}, "", {{"t", 0}, {"t", 1}}, "", 10'000});
  REQUIRE(a.assignment.size() == 1);
  TopicPartition moved = *std::set<TopicPartition>{{"t", 0}, {"t", 1}}.begin() ==
                                 *a.assignment.begin()
                             ? TopicPartition{"t", 1}
                             : TopicPartition{"t", 0};
  CHECK(commit(a, moved).ok());
  // A hands it over; B gets it. A's epoch is current, the partition is not.
  a = beat({a.member_id, a.member_epoch, {}, "", a.assignment, "", 10'000});
  b = beat({b.member_id, b.member_epoch, {}, "", {}, "", 10'000});
  REQUIRE(b.assignment.count(moved) == 1);
  CHECK(commit(a, moved).code() == ErrorCode::stale_member_epoch);
  CHECK(commit(b, moved).ok());
  CHECK(broker.committed("g", moved) == 1);
}

TEST_CASE("AWallClockThatJumpsNeitherExpiresLiveMembersNorKeepsDeadOnes", "[groups]") {
  Broker broker;
  REQUIRE(broker.topics->create("t", 1, {}).ok());
  HeartbeatInput join;
  join.topics = {"t"};
  join.session_timeout_ms = 2000;
  auto member = broker.groups->heartbeat("g", join);
  REQUIRE(member.ok());
  auto members = [&] {
    broker.io.restart();
    broker.io.run_for(std::chrono::milliseconds(100));  // sweeps
    auto snapshot = broker.groups->snapshot("g");
    REQUIRE(snapshot.ok());
    return snapshot->members.size();
  };
  // An hour forward (NTP stepping a clock that drifted, a VM resumed): the
  // member, heartbeating all along, stays.
  broker.wall.advance_ms(3'600'000);
  CHECK(members() == 1);
  REQUIRE(broker.groups->heartbeat("g", {member->member_id, member->member_epoch, {"t"}, "", {}, "", 2000}).ok());
  // Two hours back, and the member goes silent: it is gone once its session
  // (2 s) has passed, not two hours later.
  broker.wall.advance_ms(-7'200'000);
  std::this_thread::sleep_for(std::chrono::milliseconds(2300));
  CHECK(members() == 0);
}
