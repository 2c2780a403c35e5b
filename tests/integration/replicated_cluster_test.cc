// A cluster of three real cairnd processes: topics replicated by Raft,
// brokers killed under load.

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "cairn/share_consumer.h"
#include "local_cluster.h"
#include "proto/group_placement.h"
#include "run_command.h"

using namespace cairn;
using namespace cairn::testing;

namespace {

// What producers were told: partition -> offset -> value. Filled from
// producer callbacks; a second value at one offset is recorded as a failure.
class Acknowledged {
 public:
  explicit Acknowledged(OffThreadFailures& failures) : failures_(failures) {}

  void add(const Result<RecordMetadata>& sent, const std::string& value) {
    if (!failures_.expect_ok(sent.status(), "send of " + value)) return;
    std::lock_guard lock(mutex_);
    auto [it, inserted] = by_partition_[sent->partition].emplace(sent->offset.value, value);
    if (!inserted && it->second != value) {
      failures_.add(fmt::format("partition {} offset {} acknowledged twice: {} and {}",
                                sent->partition, sent->offset.value, it->second, value));
    }
  }

  std::map<int32_t, std::map<int64_t, std::string>> snapshot() const {
    std::lock_guard lock(mutex_);
    return by_partition_;
  }

 private:
  OffThreadFailures& failures_;
  mutable std::mutex mutex_;
  std::map<int32_t, std::map<int64_t, std::string>> by_partition_;
};

// Sends unique values round-robin to `partitions` partitions until stopped,
// a few at a time, waiting for each round's acknowledgements.
void produce_until(Producer& producer, const std::string& topic, int32_t partitions,
                   const std::atomic<bool>& stop, Acknowledged& acked) {
  for (int64_t round = 0; !stop; ++round) {
    for (int32_t p = 0; p < partitions; ++p) {
      for (int i = 0; i < 5; ++i) {
        std::string value = fmt::format("r{}-p{}-{}", round, p, i);
        producer.send({.topic = topic, .value = value, .partition = p},
                      [&acked, value](const Result<RecordMetadata>& sent) { acked.add(sent, value); });
      }
    }
    producer.flush();
  }
}

// Stops and joins a test's sending thread when the test ends, also after
// a failed REQUIRE (a joinable thread's destruction would terminate).
struct StopAndJoinAtExit {
  std::atomic<bool>& stopping;
  std::thread& thread;
  ~StopAndJoinAtExit() {
    stopping = true;
    if (thread.joinable()) thread.join();
  }
};

// Whether a broker's log has a line with `text` (lines come a little
// after what they report: wait for them).
bool log_mentions(const BrokerProcess& broker, const std::string& text) {
  std::ifstream log(broker.log_path());
  std::string all((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  return all.find(text) != std::string::npos;
}

// Sends `count` values (`tag` and a number) to partitions 0 and 1 of
// `topic` in turn, and waits for every answer.
void send_to_two_partitions(Producer& producer, const std::string& topic, const std::string& tag,
                            int count, Acknowledged& into) {
  for (int i = 0; i < count; ++i) {
    std::string value = tag + std::to_string(i);
    producer.send({.topic = topic, .value = value, .partition = i % 2},
                  [&into, value](const Result<RecordMetadata>& sent) { into.add(sent, value); });
  }
  producer.flush();
}

// Every acknowledged record is at its offset on every running broker's
// replica (of the partitions it hosts, as its metadata says).
void check_every_replica(LocalCluster& cluster, const std::string& topic,
                         const std::map<int32_t, std::map<int64_t, std::string>>& acked) {
  for (int32_t id = 1; id <= static_cast<int32_t>(cluster.brokers.size()); ++id) {
    auto& broker = cluster.brokers[static_cast<size_t>(id - 1)];
    if (!broker->running()) continue;
    auto described = LocalCluster::describe(*broker, topic);
    REQUIRE(described.has_value());
    for (const auto& [partition, records] : acked) {
      if (records.empty()) continue;
      const auto& replicas = described->partitions(partition).replicas();
      if (std::find(replicas.begin(), replicas.end(), id) == replicas.end()) continue;
      auto replica = LocalCluster::read_replica(*broker, topic, partition, records.rbegin()->first + 1);
      size_t missing = 0;
      for (const auto& [offset, value] : records) {
        auto found = replica.find(offset);
        if (found == replica.end() || found->second != value) {
          if (missing++ < 5) {
            UNSCOPED_INFO(fmt::format("{} {}/{} offset {}: acknowledged {}, holds {}", broker->address(),
                                      topic, partition, offset, value,
                                      found == replica.end() ? "nothing" : found->second));
          }
        }
      }
      CHECK(missing == 0);
    }
  }
}

}  // namespace

TEST_CASE("ReplicatedTopicKeepsEveryAcknowledgedRecordWhileLeadersAreKilled", "[integration][cluster]") {
  LocalCluster cluster;
  cluster.create_topic("events", 6, 3);
  cluster.wait_for_leaders("events");
  auto producer = cluster.producer();
  OffThreadFailures failures;
  Acknowledged acked(failures);
  std::atomic<bool> stop{false};
  std::thread writer([&] { produce_until(*producer, "events", 6, stop, acked); });

  // Kill a partition's leader mid-stream, again and again: each time a
  // different partition's, and once two brokers in turn.
  for (int round = 0; round < 4; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    int32_t victim = cluster.wait_for_leaders("events")[static_cast<size_t>(round)];
    cluster.broker(victim).kill();
    std::this_thread::sleep_for(std::chrono::milliseconds(2000));
    if (round == 2) {  // a second broker down while the first still is: no majority for a while
      int32_t second = victim % 3 + 1;
      cluster.broker(second).kill();
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      REQUIRE(cluster.broker(second).start().ok());
    }
    REQUIRE(cluster.broker(victim).start().ok());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  stop = true;
  writer.join();
  CHECK_NO_OFF_THREAD_FAILURES(failures);

  auto records = acked.snapshot();
  size_t total = 0;
  for (const auto& [partition, by_offset] : records) total += by_offset.size();
  INFO(total << " records acknowledged");
  REQUIRE(total > 500);
  auto leaders = cluster.wait_for_leaders("events");
  check_every_replica(cluster, "events", records);
  // The producer is idempotent: a batch retried after its leader died
  // (its acknowledgement lost, though a majority may have had it) is
  // recognised by the next leader and never written twice.
  for (const auto& [partition, by_offset] : records) {
    if (by_offset.empty()) continue;
    auto stored = LocalCluster::read_replica(cluster.broker(leaders[static_cast<size_t>(partition)]), "events",
                                             partition, by_offset.rbegin()->first + 1);
    std::map<std::string, int> copies;
    size_t duplicates = 0;
    for (const auto& [offset, value] : stored) {
      if (++copies[value] > 1) ++duplicates;
    }
    INFO("partition " << partition << ": " << stored.size() << " records");
    CHECK(duplicates == 0);
  }
}

TEST_CASE("AStoppedLeaderIsNeverAStaleLeader", "[integration][cluster]") {
  LocalCluster cluster;
  cluster.create_topic("orders", 1, 3);
  int32_t stopped = cluster.wait_for_leaders("orders")[0];
  auto producer = cluster.producer();
  OffThreadFailures failures;
  Acknowledged acked(failures);
  auto send = [&](const std::string& tag, int count) {
    for (int i = 0; i < count; ++i) {
      std::string value = tag + std::to_string(i);
      producer->send({.topic = "orders", .value = value, .partition = 0},
                     [&acked, value](const Result<RecordMetadata>& sent) { acked.add(sent, value); });
    }
    producer->flush();
  };
  send("before-", 100);

  // Frozen past the election timeout: the others elect a new leader and go on.
  cluster.broker(stopped).pause();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  send("during-", 100);

  // Back: whatever it still believes for a moment, it must not acknowledge
  // a write the new leader does not have.
  cluster.broker(stopped).resume();
  auto stub = v1::Broker::NewStub(
      grpc::CreateChannel(cluster.broker(stopped).address(), grpc::InsecureChannelCredentials()));
  v1::ProduceRequest stale;
  stale.set_acks(v1::ACKS_ALL);
  stale.set_timeout_ms(3000);
  auto* data = stale.add_partitions();
  data->set_topic("orders");
  data->set_partition(0);
  data->mutable_records()->add_records()->set_value("stale-write");
  v1::ProduceResponse answer;
  grpc::ClientContext context;
  grpc::Status rpc = stub->Produce(&context, stale, &answer);
  REQUIRE(rpc.ok());
  REQUIRE(answer.results_size() == 1);
  CHECK(answer.results(0).error().code() != v1::NONE);
  send("after-", 100);
  CHECK_NO_OFF_THREAD_FAILURES(failures);

  auto records = acked.snapshot();
  REQUIRE(records[0].size() == 300);
  check_every_replica(cluster, "orders", records);
  // The refused write is on no replica, below any high watermark.
  for (auto& broker : cluster.brokers) {
    for (const auto& [offset, value] : LocalCluster::read_replica(*broker, "orders", 0, 300)) {
      CHECK(value != "stale-write");
    }
  }
}

TEST_CASE("AReplicaWhoseDiskLostAcknowledgedRecordsElectsNoLeaderWithoutThemAndIsRepaired",
          "[integration][cluster]") {
  LocalCluster cluster;
  cluster.create_topic("ledger", 1, 3);
  const int32_t leader = cluster.wait_for_leaders("ledger")[0];
  const int32_t damaged = leader % 3 + 1;
  const int32_t other = damaged % 3 + 1;
  auto producer = cluster.producer(10'000);
  OffThreadFailures failures;
  Acknowledged acked(failures);
  auto send = [&](const std::string& tag) {
    for (int i = 0; i < 200; ++i) {
      std::string value = tag + std::to_string(i);
      producer->send({.topic = "ledger", .value = value, .partition = 0},
                     [&acked, value](const Result<RecordMetadata>& sent) { acked.add(sent, value); });
    }
    producer->flush();
  };
  send("everywhere-");
  for (int32_t id : {damaged, other}) (void)LocalCluster::read_replica(cluster.broker(id), "ledger", 0, 200);
  const auto segment = LocalCluster::newest_segment(cluster.broker(damaged), "ledger", 0);
  REQUIRE_FALSE(segment.empty());
  const auto size_before = LocalCluster::batch_bytes(segment);

  // Acknowledged by the leader and `damaged` alone; then `damaged` loses
  // them to its disk (synced bytes gone: not a power cut, damage), and the
  // leader dies.
  cluster.broker(other).kill();
  send("two-copies-");
  CHECK_NO_OFF_THREAD_FAILURES(failures);
  cluster.broker(damaged).kill();
  std::filesystem::resize_file(segment, size_before);
  cluster.broker(leader).kill();

  // `other` lacks them, and `damaged` knows it lost them: no leader may be
  // elected from the two, however long.
  REQUIRE(cluster.broker(damaged).start().ok());
  REQUIRE(cluster.broker(other).start().ok());
  CHECK(eventually([&] { return log_mentions(cluster.broker(damaged), "repairing a damaged log"); },
                   std::chrono::seconds(10)));
  auto no_leader_until = std::chrono::steady_clock::now() + std::chrono::seconds(6);
  while (std::chrono::steady_clock::now() < no_leader_until) {
    for (int32_t id : {damaged, other}) {
      auto described = LocalCluster::describe(cluster.broker(id), "ledger");
      if (described) CHECK(described->partitions(0).leader() < 1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }

  // The broker that holds them returns: they are everywhere again, and the
  // repaired replica takes part in elections once more.
  REQUIRE(cluster.broker(leader).start().ok());
  cluster.wait_for_leaders("ledger", std::chrono::seconds(30));
  send("after-");
  CHECK_NO_OFF_THREAD_FAILURES(failures);
  auto records = acked.snapshot();
  REQUIRE(records[0].size() == 600);
  check_every_replica(cluster, "ledger", records);
  // Without the broker that could not lose them, the two others elect a leader.
  cluster.broker(leader).kill();
  CHECK(cluster.wait_for_leaders("ledger", std::chrono::seconds(30))[0] != leader);
}

TEST_CASE("AByteGoneBadInOldDataOfAFollowerIsFoundByTheScrubAndRepaired", "[integration][cluster]") {
  // Nothing reads a follower's old segments: without the background scrub,
  // the damage waits there until another fault makes it the last copy.
  LocalCluster cluster({"--scrub-interval-ms", "300"});
  Status created = cluster.admin->create_topic({"ledger", 1, 3, {{"segment.bytes", "4096"}}});
  REQUIRE(created.ok());
  const int32_t leader = cluster.wait_for_leaders("ledger")[0];
  // Neither the leader nor the preferred replica, which the leader hands
  // leadership back to within seconds: a new leader reads its whole log
  // (its producers' state), and would find the damage before the scrub.
  auto described = LocalCluster::describe(cluster.broker(leader), "ledger");
  REQUIRE(described);
  const int32_t preferred = described->partitions(0).replicas(0);
  int32_t follower = 1;
  while (follower == leader || follower == preferred) ++follower;
  auto producer = cluster.producer(10'000);
  OffThreadFailures failures;
  Acknowledged acked(failures);
  for (int i = 0; i < 300; ++i) {
    std::string value = fmt::format("record-{:03}-{}", i, std::string(100, 'x'));
    producer->send({.topic = "ledger", .value = value, .partition = 0},
                   [&acked, value](const Result<RecordMetadata>& sent) { acked.add(sent, value); });
    if (i % 10 == 9) producer->flush();  // batches of 10: many segments
  }
  producer->flush();
  CHECK_NO_OFF_THREAD_FAILURES(failures);
  (void)LocalCluster::read_replica(cluster.broker(follower), "ledger", 0, 300);
  auto segments = LocalCluster::segments(cluster.broker(follower), "ledger", 0);
  REQUIRE(segments.size() > 3);
  LocalCluster::flip_byte(segments.front(), LocalCluster::batch_bytes(segments.front()) - 5);

  CHECK(eventually([&] { return log_mentions(cluster.broker(follower), "the log is damaged from offset"); },
                   std::chrono::seconds(15)));
  CHECK(log_mentions(cluster.broker(follower), "scrub: ledger/0"));
  // Cut at the damage, then fetched again: every replica holds every record.
  auto records = acked.snapshot();
  REQUIRE(records[0].size() == 300);
  check_every_replica(cluster, "ledger", records);
}

TEST_CASE("RestartingEveryBrokerKeepsEveryAcknowledgedRecord", "[integration][cluster]") {
  LocalCluster cluster;
  cluster.create_topic("ledger", 3, 3);
  cluster.wait_for_leaders("ledger");
  OffThreadFailures failures;
  Acknowledged acked(failures);
  auto send_round = [&](const std::string& tag) {
    auto producer = cluster.producer();
    for (int i = 0; i < 300; ++i) {
      std::string value = tag + std::to_string(i);
      producer->send({.topic = "ledger", .value = value, .partition = i % 3},
                     [&acked, value](const Result<RecordMetadata>& sent) { acked.add(sent, value); });
    }
    producer->flush();
  };
  send_round("first-");
  bool crash = GENERATE(false, true);
  INFO((crash ? "SIGKILL" : "SIGTERM") << " all three");
  for (auto& broker : cluster.brokers) crash ? broker->kill() : broker->stop();
  for (auto& broker : cluster.brokers) REQUIRE(broker->start().ok());
  // The topics come back from the controller's log, with their data.
  cluster.wait_for_leaders("ledger");
  send_round("second-");
  CHECK_NO_OFF_THREAD_FAILURES(failures);
  auto records = acked.snapshot();
  size_t total = 0;
  for (const auto& [partition, by_offset] : records) total += by_offset.size();
  CHECK(total == 600);
  check_every_replica(cluster, "ledger", records);
}

TEST_CASE("ATopicDeletedAndCreatedAgainKeepsOnlyItsNewRecordsAcrossRestarts", "[integration][cluster]") {
  // Restarted brokers must not replay the old incarnation's deletion over
  // the new one's data, nor serve the old one's records.
  LocalCluster cluster;
  OffThreadFailures failures;
  Acknowledged old_acked(failures);
  Acknowledged acked(failures);
  auto send_round = [&](const std::string& tag, Acknowledged& into) {
    send_to_two_partitions(*cluster.producer(), "ledger", tag, 200, into);
  };
  cluster.create_topic("ledger", 2, 3);
  cluster.wait_for_leaders("ledger");
  send_round("old-", old_acked);
  Status deleted = cluster.admin->delete_topic("ledger");
  INFO(deleted.to_string());
  REQUIRE(deleted.ok());
  cluster.create_topic("ledger", 2, 3);
  cluster.wait_for_leaders("ledger");
  send_round("new-", acked);
  bool crash = GENERATE(false, true);
  INFO((crash ? "SIGKILL" : "SIGTERM") << " all three");
  for (auto& broker : cluster.brokers) crash ? broker->kill() : broker->stop();
  for (auto& broker : cluster.brokers) REQUIRE(broker->start().ok());
  cluster.wait_for_leaders("ledger");
  CHECK_NO_OFF_THREAD_FAILURES(failures);
  auto records = acked.snapshot();
  size_t total = 0;
  for (const auto& [partition, by_offset] : records) total += by_offset.size();
  REQUIRE(total == 200);
  check_every_replica(cluster, "ledger", records);
}

TEST_CASE("ABrokerBehindTheMetadataSnapshotCatchesUpFromAPeersImage", "[integration][cluster]") {
  // The metadata log keeps few records: while broker 3 is down, the others
  // drop the changes it missed, so it must take a peer's image instead.
  LocalCluster cluster({"--metadata-snapshot-records", "4"});
  OffThreadFailures failures;
  Acknowledged kept(failures);
  Acknowledged fresh(failures);
  auto send = [&](const std::string& topic, Acknowledged& acked) {
    send_to_two_partitions(*cluster.producer(), topic, topic, 100, acked);
  };
  cluster.create_topic("gone", 2, 3);
  cluster.create_topic("kept", 2, 3);
  cluster.wait_for_leaders("kept");
  cluster.broker(3).kill();
  REQUIRE(cluster.admin->delete_topic("gone").ok());
  for (int i = 0; i < 6; ++i) {
    std::string name = "churn-" + std::to_string(i);
    cluster.create_topic(name, 1, 2);
    REQUIRE(cluster.admin->delete_topic(name).ok());
  }
  Status altered = cluster.admin->alter_topic_configs("kept", {{"retention.ms", "3600000"}});
  INFO(altered.to_string());
  REQUIRE(altered.ok());
  cluster.create_topic("fresh", 2, 3);
  cluster.wait_for_leaders("fresh");
  send("kept", kept);

  REQUIRE(cluster.broker(3).start().ok());
  auto& broker3 = cluster.broker(3);
  bool caught_up = eventually(
      [&] {
        auto metadata = LocalCluster::metadata(broker3, {});
        if (!metadata) return false;
        std::set<std::string> names;
        for (const auto& t : metadata->topics()) names.insert(t.name());
        return names.count("fresh") && names.count("kept") && !names.count("gone") &&
               !names.count("churn-5");
      },
      std::chrono::seconds(30));
  INFO(cluster.log_tails());
  REQUIRE(caught_up);
  CHECK(eventually([&] { return log_mentions(broker3, "installed the cluster metadata image"); },
                   std::chrono::seconds(10)));
  // The deleted topic's replica is gone from its disk, and the new topic
  // is replicated there like any other.
  CHECK_FALSE(std::filesystem::exists(broker3.data_dir() + "/gone/0"));
  CHECK_FALSE(std::filesystem::exists(broker3.data_dir() + "/gone/1"));
  CHECK(std::filesystem::exists(broker3.data_dir() + "/fresh/0"));
  send("fresh", fresh);
  CHECK_NO_OFF_THREAD_FAILURES(failures);
  cluster.wait_for_leaders("fresh");
  check_every_replica(cluster, "kept", kept.snapshot());
  check_every_replica(cluster, "fresh", fresh.snapshot());
}

// Waits until no partition of `topic` moves any more; false on timeout.
bool wait_until_moved(Admin& admin, const std::string& topic) {
  return eventually(
      [&] {
        auto described = admin.describe_topic(topic);
        if (!described.ok()) return false;
        for (const auto& p : described->partitions) {
          if (!p.moving_to.empty()) return false;
        }
        return true;
      },
      std::chrono::seconds(60));
}

// Replicas per broker of `topic`, as metadata says.
std::map<int32_t, int> replicas_per_broker(Admin& admin, const std::string& topic) {
  std::map<int32_t, int> out;
  // Every broker learns of a new topic soon after it is created, not at once.
  Result<TopicDescription> described = error(ErrorCode::unknown, "not asked");
  bool answered = eventually(
      [&] {
        described = admin.describe_topic(topic);
        return described.ok();
      },
      std::chrono::seconds(10));
  INFO(described.status().to_string());
  REQUIRE(answered);
  for (const auto& p : described->partitions) {
    for (int32_t id : p.replicas) ++out[id];
  }
  return out;
}

// Replicas per broker over every topic, internal ones included.
std::map<int32_t, int> replicas_per_broker(Admin& admin) {
  std::map<int32_t, int> out;
  auto topics = admin.list_topics(true);
  REQUIRE(topics.ok());
  for (const auto& topic : *topics) {
    for (const auto& [id, count] : replicas_per_broker(admin, topic)) out[id] += count;
  }
  return out;
}

TEST_CASE("DecommissioningAndAddingABrokerMoveReplicasWhileProducersRun", "[integration][cluster]") {
  LocalCluster cluster({}, 4);
  cluster.create_topic("moves", 6, 3);
  cluster.wait_for_leaders("moves");
  auto producer = cluster.producer();
  OffThreadFailures failures;
  Acknowledged acked(failures);
  std::atomic<bool> stop{false};
  std::thread writer([&] { produce_until(*producer, "moves", 6, stop, acked); });
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));

  // Off broker 4: its replicas move to the others, and its files go.
  int held = replicas_per_broker(*cluster.admin)[4];
  REQUIRE(held > 0);
  auto decommissioned = cluster.admin->decommission_broker(4);
  INFO(decommissioned.status().to_string());
  REQUIRE(decommissioned.ok());
  CHECK(static_cast<int>(decommissioned->size()) == held);
  bool moved = wait_until_moved(*cluster.admin, "moves") &&
               wait_until_moved(*cluster.admin, "__consumer_offsets");
  INFO(cluster.log_tails());
  REQUIRE(moved);
  // Each partition is described by its leader, which may not have applied
  // the latest moves yet: waited for, not read once.
  CHECK(eventually([&] { return replicas_per_broker(*cluster.admin).count(4) == 0; },
                   std::chrono::seconds(30)));
  CHECK(eventually(
      [&] {
        for (int32_t p = 0; p < 6; ++p) {
          if (std::filesystem::exists(fmt::format("{}/moves/{}", cluster.broker(4).data_dir(), p))) return false;
        }
        return true;
      },
      std::chrono::seconds(10)));
  // New topics keep off a decommissioned broker.
  cluster.create_topic("later", 3, 3);
  CHECK(replicas_per_broker(*cluster.admin, "later").count(4) == 0);

  // Back onto broker 4: it takes its share again.
  auto added = cluster.admin->add_broker(4);
  INFO(added.status().to_string());
  REQUIRE(added.ok());
  CHECK(!added->empty());
  REQUIRE(wait_until_moved(*cluster.admin, "moves"));
  REQUIRE(wait_until_moved(*cluster.admin, "__consumer_offsets"));
  REQUIRE(wait_until_moved(*cluster.admin, "later"));
  CHECK(eventually(
      [&] {
        auto after_add = replicas_per_broker(*cluster.admin);
        int total = 0;
        for (const auto& [id, count] : after_add) total += count;
        return after_add[4] == total / 4;
      },
      std::chrono::seconds(30)));

  // Leaders go to each partition's preferred replica.
  CHECK(eventually(
      [&] {
        auto moved = cluster.admin->rebalance_leaders();
        auto described = cluster.admin->describe_topic("moves");
        if (!moved.ok() || !described.ok()) return false;
        for (const auto& p : described->partitions) {
          if (p.leader != p.replicas.front()) return false;
        }
        return true;
      },
      std::chrono::seconds(30)));

  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  stop = true;
  writer.join();
  CHECK_NO_OFF_THREAD_FAILURES(failures);
  auto records = acked.snapshot();
  size_t total_records = 0;
  for (const auto& [partition, by_offset] : records) total_records += by_offset.size();
  INFO(total_records << " records acknowledged");
  REQUIRE(total_records > 300);
  check_every_replica(cluster, "moves", records);
}

// A broker added under a steady load, with a disk slower than the voters':
// its replicas never hold everything committed at one instant, and become
// voters once they keep up (Raft's catch-up rounds), so the move finishes.
TEST_CASE("ABrokerWithASlowerDiskJoinsPartitionsUnderASteadyLoad", "[integration][cluster]") {
  LocalCluster cluster({}, 4, [](int32_t id, const std::vector<int>&) {
    return id == 4 ? std::vector<std::string>{"--test-sync-delay-ms", "20"} : std::vector<std::string>{};
  });
  // Once the controller has heard from every broker (it refuses before).
  Status decommissioned = error(ErrorCode::unknown, "not asked");
  bool off = eventually([&] { return (decommissioned = cluster.admin->decommission_broker(4).status()).ok(); },
                        std::chrono::seconds(30));
  INFO(decommissioned.to_string());
  REQUIRE(off);
  REQUIRE(wait_until_moved(*cluster.admin, "__consumer_offsets"));
  // 8 × 3 replicas with 8 × 3 of the offsets topic: broker 4's share, 12,
  // takes at least 4 of these.
  cluster.create_topic("steady", 8, 3);
  cluster.wait_for_leaders("steady");
  REQUIRE(replicas_per_broker(*cluster.admin, "steady").count(4) == 0);
  auto producer = cluster.producer();
  OffThreadFailures failures;
  Acknowledged acked(failures);
  std::atomic<bool> stop{false};
  std::thread writer([&] { produce_until(*producer, "steady", 8, stop, acked); });
  StopAndJoinAtExit stop_writer{stop, writer};
  std::this_thread::sleep_for(std::chrono::milliseconds(500));

  // The decommission's moves may still be finishing (a partition's leader
  // can describe it before it applied the last step): one move at a time.
  Result<std::vector<PartitionMove>> added = error(ErrorCode::unknown, "not asked");
  bool asked = eventually([&] { return (added = cluster.admin->add_broker(4)).ok(); }, std::chrono::seconds(30));
  INFO(added.status().to_string());
  REQUIRE(asked);
  bool joins_steady = std::any_of(added->begin(), added->end(),
                                  [](const PartitionMove& m) { return m.topic == "steady"; });
  REQUIRE(joins_steady);
  bool moved = wait_until_moved(*cluster.admin, "steady");
  INFO(cluster.log_tails());
  REQUIRE(moved);
  CHECK(replicas_per_broker(*cluster.admin, "steady")[4] > 0);

  stop = true;
  writer.join();
  CHECK_NO_OFF_THREAD_FAILURES(failures);
  auto records = acked.snapshot();
  REQUIRE(!records.empty());
  check_every_replica(cluster, "steady", records);
}

TEST_CASE("ABrokerDecommissionedWhileDownDropsItsReplicasFromAPeersImage", "[integration][cluster]") {
  // Broker 4 dies; its replicas move away meanwhile, and the metadata log
  // drops those moves. Back, it learns them from a peer's image and removes
  // the replicas it no longer hosts.
  LocalCluster cluster({"--metadata-snapshot-records", "2"}, 4);
  cluster.create_topic("moves", 4, 3);
  cluster.wait_for_leaders("moves");
  REQUIRE(replicas_per_broker(*cluster.admin, "moves")[4] > 0);
  std::vector<int32_t> held;
  for (int32_t p = 0; p < 4; ++p) {
    if (std::filesystem::exists(fmt::format("{}/moves/{}", cluster.broker(4).data_dir(), p))) held.push_back(p);
  }
  REQUIRE(!held.empty());
  cluster.broker(4).kill();
  auto decommissioned = cluster.admin->decommission_broker(4);
  INFO(decommissioned.status().to_string());
  REQUIRE(decommissioned.ok());
  bool moved = wait_until_moved(*cluster.admin, "moves") &&
               wait_until_moved(*cluster.admin, "__consumer_offsets");
  if (!moved) FAIL(cluster.log_tails());
  for (int i = 0; i < 3; ++i) {
    std::string name = "churn-" + std::to_string(i);
    cluster.create_topic(name, 1, 2);
    REQUIRE(cluster.admin->delete_topic(name).ok());
  }

  REQUIRE(cluster.broker(4).start().ok());
  auto installed = [&] { return log_mentions(cluster.broker(4), "installed the cluster metadata image"); };
  auto dropped = [&] {
    for (int32_t p : held) {
      if (std::filesystem::exists(fmt::format("{}/moves/{}", cluster.broker(4).data_dir(), p))) return false;
    }
    return true;
  };
  // The log line comes once the install is done, after the files went.
  bool caught_up = eventually([&] { return dropped() && installed(); }, std::chrono::seconds(30));
  INFO(cluster.log_tails(40));
  CHECK(dropped());
  CHECK(installed());
  CHECK(caught_up);
  // Its peers serve on: every partition has a leader among them.
  for (int32_t leader : cluster.wait_for_leaders("moves")) CHECK(leader != 4);
}

TEST_CASE("MovesThatCannotFinishAreCancelledBackToWhereTheyCameFrom", "[integration][cluster]") {
  LocalCluster cluster({}, 4);
  cluster.create_topic("stuck", 4, 3);
  cluster.wait_for_leaders("stuck");
  // The controller settles on broker 1, the preferred leader of the
  // metadata partition (it takes leadership back 5 s after an election).
  REQUIRE(eventually([&] { return cluster.wait_for_controller() == 1; }, std::chrono::seconds(30)));
  // An admin client that asks the controller only: one asking a hung
  // broker waits out its request timeout (a known limit of the client).
  ClientOptions options = cluster.client_options();
  options.bootstrap_brokers = {cluster.broker(1).address()};
  auto connected = Admin::connect(options);
  REQUIRE(connected.ok());
  auto& admin = **connected;
  // Until the controller has led 5 s it cannot tell live brokers, and
  // plans no move: wait for that, so that the hung broker still counts.
  REQUIRE(eventually(
      [&] {
        auto described = admin.describe_cluster();
        if (!described.ok() || described->controller_id != 1) return false;
        for (const auto& broker : described->brokers) {
          if (broker.live != true) return false;
        }
        return true;
      },
      std::chrono::seconds(20)));
  // A broker that hangs (not the controller, not the one decommissioned)
  // but is still counted live for 5 s: moves onto it start, and stall.
  const int32_t hung = 2;
  cluster.broker(hung).pause();
  auto decommissioned = admin.decommission_broker(4);
  INFO(decommissioned.status().to_string());
  REQUIRE(decommissioned.ok());
  size_t onto_hung = 0;
  for (const auto& move : *decommissioned) {
    if (std::count(move.to.begin(), move.to.end(), hung) > std::count(move.from.begin(), move.from.end(), hung)) {
      ++onto_hung;
    }
  }
  REQUIRE(onto_hung > 0);
  std::this_thread::sleep_for(std::chrono::seconds(3));
  // Still moving: nothing else may start meanwhile.
  auto refused = admin.add_broker(4);
  CHECK_THAT(refused.status().message(), Catch::Contains("still moving"));

  auto cancelled = admin.cancel_moves();
  INFO(cancelled.status().to_string());
  REQUIRE(cancelled.ok());
  CHECK(cancelled->size() >= onto_hung);
  // Back where they came from: off the hung broker unless it held a replica before.
  for (const auto& move : *cancelled) {
    bool held_before = std::count(move.to.begin(), move.to.end(), hung) > 0;
    bool was_moving_there = std::count(move.from.begin(), move.from.end(), hung) > 0;
    CHECK((held_before || was_moving_there));
  }
  // The moves back finish without the hung broker.
  bool settled = wait_until_moved(admin, "stuck") && wait_until_moved(admin, "__consumer_offsets");
  INFO(cluster.log_tails());
  REQUIRE(settled);
  cluster.broker(hung).resume();
  // Back once the controller hears from it again: until then a
  // decommission finds too few live brokers to move replicas onto.
  REQUIRE(eventually(
      [&] {
        auto described = admin.describe_cluster();
        if (!described.ok()) return false;
        for (const auto& broker : described->brokers) {
          if (broker.id == hung) return broker.live == true;
        }
        return false;
      },
      std::chrono::seconds(20)));

  // Once the broker is back, decommissioning goes through.
  auto again = admin.decommission_broker(4);
  INFO(again.status().to_string());
  REQUIRE(again.ok());
  // Each partition is described by its leader, which may not have applied
  // the latest moves yet: waited for, not read once.
  bool off = eventually([&] { return replicas_per_broker(admin).count(4) == 0; }, std::chrono::seconds(60));
  INFO(cluster.log_tails(40));
  CHECK(off);
}

TEST_CASE("ControllerFailoverLetsTopicsBeChangedAgain", "[integration][cluster]") {
  LocalCluster cluster;
  cluster.create_topic("before", 1, 3);
  int32_t controller = cluster.wait_for_controller();
  cluster.broker(controller).kill();
  // Any live broker takes the change and forwards it to the new controller.
  cluster.create_topic("after", 2, 3);
  CHECK(cluster.wait_for_controller() != controller);
  CHECK(cluster.admin->delete_topic("before").ok());

  // The broker that was down catches up from the metadata log.
  REQUIRE(cluster.broker(controller).start().ok());
  CHECK(eventually(
      [&] {
        auto metadata = LocalCluster::metadata(cluster.broker(controller), {});
        if (!metadata) return false;
        std::set<std::string> names;
        for (const auto& topic : metadata->topics()) {
          if (!is_internal_topic(topic.name())) names.insert(topic.name());
        }
        return names == std::set<std::string>{"after"};
      },
      std::chrono::seconds(20)));
}

TEST_CASE("PartitionsOnOtherBrokersAreFoundFromAnyOne", "[integration][cluster]") {
  LocalCluster cluster;
  cluster.create_topic("solo", 3, 1);  // one replica each: every broker hosts one partition
  cluster.wait_for_leaders("solo");
  ProducerOptions options;
  options.client = cluster.client_options();
  options.client.bootstrap_brokers = {cluster.broker(1).address()};
  options.acks = Acks::all;
  auto producer = Producer::create(options);
  REQUIRE(producer.ok());
  OffThreadFailures failures;
  Acknowledged acked(failures);
  for (int i = 0; i < 30; ++i) {
    std::string value = "v" + std::to_string(i);
    (*producer)->send({.topic = "solo", .value = value, .partition = i % 3},
                      [&acked, value](const Result<RecordMetadata>& sent) { acked.add(sent, value); });
  }
  (*producer)->flush();
  CHECK_NO_OFF_THREAD_FAILURES(failures);
  auto records = acked.snapshot();
  REQUIRE(records.size() == 3);
  // A broker without a replica says where it is.
  for (int32_t p = 0; p < 3; ++p) {
    auto described = LocalCluster::describe(cluster.broker(1), "solo");
    REQUIRE(described);
    int32_t host = described->partitions(p).replicas(0);
    int32_t other = host % 3 + 1;
    auto stub = v1::Broker::NewStub(grpc::CreateChannel(cluster.broker(other).address(),
                                                        grpc::InsecureChannelCredentials()));
    v1::ProduceRequest request;
    auto* data = request.add_partitions();
    data->set_topic("solo");
    data->set_partition(p);
    data->mutable_records()->add_records()->set_value("x");
    v1::ProduceResponse response;
    grpc::ClientContext context;
    REQUIRE(stub->Produce(&context, request, &response).ok());
    CHECK(response.results(0).error().code() == v1::NOT_LEADER);
    CHECK_THAT(response.results(0).error().message(),
               Catch::Contains(fmt::format("brokers {} do", host)));
  }
}

// A new topic's partitions are led by their preferred replicas (the first
// of each) from their first election, as Kafka's and Redpanda's are: not by
// whichever replica's election timer fired first, handing leadership over
// seconds later, a failover for every producer that started meanwhile.
TEST_CASE("ANewTopicIsLedByItsPreferredReplicasFromItsFirstElection", "[integration][cluster]") {
  LocalCluster cluster;
  cluster.create_topic("fresh", 6, 3);
  // Long before a leader hands over to the preferred replica (5 s after
  // its election).
  auto leaders = cluster.wait_for_leaders("fresh");
  auto described = LocalCluster::describe(cluster.broker(1), "fresh");
  REQUIRE(described);
  REQUIRE(described->partitions_size() == 6);
  for (const auto& p : described->partitions()) {
    INFO("partition " << p.partition() << ": replicas " << fmt::format("{}", fmt::join(p.replicas(), ",")));
    CHECK(leaders.at(static_cast<size_t>(p.partition())) == p.replicas(0));
  }
}

// A new cluster's controller is elected on its preferred broker (the first
// voter) by that broker's first campaigns, which go on while its peers are
// still starting, and is not handed over to it seconds later.
TEST_CASE("ANewClustersControllerIsElectedOnItsPreferredBrokerWithoutAHandover", "[integration][cluster]") {
  LocalCluster cluster;
  CHECK(cluster.wait_for_controller() == 1);
  // Past when a leader hands over to the preferred one (5 s after its election).
  std::this_thread::sleep_for(std::chrono::seconds(7));
  CHECK(cluster.wait_for_controller() == 1);
  for (const auto& broker : cluster.brokers) {
    INFO(broker->log_path());
    CHECK_FALSE(log_mentions(*broker, "__cluster_metadata/0: handing leadership"));
  }
}

// A producer allowed one request per broker, with that request stuck at a
// paused broker, still sends to the other brokers at once: it does not
// wait for the paused one's slot (which frees only once the request is
// given up on, a request timeout later).
TEST_CASE("AHungBrokerAtItsRequestLimitHoldsUpOnlyItsOwnPartitions", "[integration][cluster]") {
  LocalCluster cluster;
  cluster.create_topic("solo", 3, 1);  // one replica each: every broker leads one partition
  auto leaders = cluster.wait_for_leaders("solo");
  ProducerOptions options;
  options.client = cluster.client_options();
  options.client.request_timeout_ms = 5'000;
  options.linger_ms = 0;
  options.max_in_flight_requests = 1;
  options.batch_bytes = 1024;  // `second` is a full batch: it may go beside `first`
  auto producer = std::move(Producer::create(options)).value();
  for (int32_t p = 0; p < 3; ++p) {
    REQUIRE(producer->send({.topic = "solo", .value = "warm", .partition = p}).get().ok());
  }
  BrokerProcess& hung = cluster.broker(leaders.at(0));
  hung.pause();
  auto first = producer->send({.topic = "solo", .value = "a", .partition = 0});
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // in flight: the broker's one slot
  auto second = producer->send({.topic = "solo", .value = std::string(2'000, 'b'), .partition = 0});
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto started = std::chrono::steady_clock::now();
  auto other = producer->send({.topic = "solo", .value = "c", .partition = 1}).get();
  auto waited = std::chrono::steady_clock::now() - started;
  hung.resume();
  INFO(other.status().to_string());
  REQUIRE(other.ok());
  CHECK(waited < std::chrono::seconds(2));
  CHECK(first.get().ok());
  CHECK(second.get().ok());
}

TEST_CASE("AConsumerSeeksATopicWhoseLeadersAreStillBeingElected", "[integration][cluster]") {
  LocalCluster cluster;
  // No wait for leaders: the seek must ride through their election.
  cluster.create_topic("fresh", 3, 3);
  ConsumerOptions options;
  options.client = cluster.client_options();
  auto consumer = Consumer::create(options);
  REQUIRE(consumer.ok());
  std::vector<TopicPartition> partitions{{"fresh", 0}, {"fresh", 1}, {"fresh", 2}};
  REQUIRE((*consumer)->assign(partitions).ok());
  Status at_end = (*consumer)->seek_to_end(partitions);
  INFO(at_end.to_string());
  REQUIRE(at_end.ok());
  auto end = (*consumer)->position({"fresh", 1});
  REQUIRE(end.ok());
  // The end is where the next record lands (after the leader's own entry).
  auto producer = cluster.producer();
  auto sent = producer->send({.topic = "fresh", .value = "first", .partition = 1}).get();
  REQUIRE(sent.ok());
  CHECK(sent->offset == *end);
}

TEST_CASE("TheCliCreatesReplicatedTopicsAndDescribesTheCluster", "[integration][cluster][cli]") {
  LocalCluster cluster;
  std::string brokers = cluster.broker(1).address() + "," + cluster.broker(2).address();
  auto cli = [&](const std::string& args, const std::string& input = "") {
    std::string input_path = cluster.folder.path() + "/stdin";
    std::ofstream(input_path) << input;
    return run_command(fmt::format("{} {} --brokers {} < {} 2>&1", bin_path("cairn"), args, brokers,
                                   input_path));
  };
  // The line of `output` that names `address`.
  auto line_of = [](const std::string& output, const std::string& address) {
    auto at = output.find(address);
    if (at == std::string::npos) return std::string();
    auto start = output.rfind('\n', at);
    start = start == std::string::npos ? 0 : start + 1;
    return output.substr(start, output.find('\n', at) - start);
  };
  int32_t controller = cluster.wait_for_controller();
  auto described = cli("cluster describe");
  CHECK(described.exit_code == 0);
  for (int32_t id = 1; id <= 3; ++id) {
    std::string line = line_of(described.output, cluster.broker(id).address());
    INFO(line);
    CHECK_THAT(line, Catch::Contains(" up "));
    CHECK((line.find("controller") != std::string::npos) == (id == controller));
  }

  auto created = cli("topic create events --partitions 3 --replication-factor 2");
  CHECK(created.exit_code == 0);
  CHECK_THAT(created.output, Catch::Contains("created topic events"));
  CHECK(cli("topic create more --replication-factor 4").exit_code == 1);
  cluster.wait_for_leaders("events");
  // Three brokers and three replicas per partition: nowhere to move them.
  auto decommission = cli("cluster decommission 3");
  CHECK(decommission.exit_code == 1);
  CHECK_THAT(decommission.output, Catch::Contains("no other live broker can take"));
  auto rebalanced = cli("cluster rebalance-leaders");
  CHECK(rebalanced.exit_code == 0);
  CHECK_THAT(rebalanced.output, Catch::Contains("leadership transfer(s) started"));
  auto produced = cli("produce events --partition 1", "one\ntwo\n");
  CHECK(produced.exit_code == 0);
  auto consumed = cli("consume events --from beginning --max-messages 2 --timeout-ms 5000");
  CHECK(consumed.exit_code == 0);
  CHECK_THAT(consumed.output, Catch::Contains("one") && Catch::Contains("two"));

  // Each partition's leader says which replicas are caught up.
  auto all_caught_up = [&](size_t replicas, int32_t without) {
    auto topic = cluster.admin->describe_topic("events");
    if (!topic.ok()) return false;
    for (const auto& p : topic->partitions) {
      if (p.caught_up.size() != replicas) return false;
      if (std::count(p.caught_up.begin(), p.caught_up.end(), without) > 0) return false;
    }
    return true;
  };
  CHECK(eventually([&] { return all_caught_up(2, 0); }, std::chrono::seconds(10)));
  CHECK_THAT(cli("topic describe events").output, Catch::Contains("caught-up"));
  CHECK(cli("consume events --group audit --from earliest --max-messages 1 --timeout-ms 5000").exit_code == 0);
  // The group's offsets partition may have just changed leader (the
  // rebalance above): its new coordinator lists the group once it has
  // loaded it.
  CommandResult healthy;
  CHECK(eventually([&] {
    healthy = cli("cluster health");
    return healthy.exit_code == 0 && healthy.output.find("audit events/1") != std::string::npos;
  }, std::chrono::seconds(10)));
  INFO(healthy.output);
  CHECK_THAT(healthy.output, Catch::Contains("brokers: 3 of 3 serve; controller: broker"));
  CHECK_THAT(healthy.output, Catch::Contains("without a leader, 0 under-replicated)"));
  CHECK_THAT(healthy.output, Catch::Contains("audit events/1: 1 record(s) behind"));
  CHECK_THAT(healthy.output, Catch::EndsWith("\nhealthy\n"));

  // A broker down is reported, not hidden: unreachable, and caught up nowhere.
  cluster.broker(3).kill();
  auto degraded = cli("cluster describe");
  CHECK_THAT(line_of(degraded.output, cluster.broker(3).address()), Catch::Contains("unreachable"));
  CHECK(eventually(
      [&] {
        auto topic = cluster.admin->describe_topic("events");
        if (!topic.ok()) return false;
        for (const auto& p : topic->partitions) {
          if (std::count(p.caught_up.begin(), p.caught_up.end(), 3) > 0) return false;
        }
        return true;
      },
      std::chrono::seconds(15)));
  // The controller stops hearing from it, and places no new replica there.
  CHECK(eventually(
      [&] {
        return line_of(cli("cluster describe").output, cluster.broker(3).address()).find("not-heard-from") !=
               std::string::npos;
      },
      std::chrono::seconds(20)));
  auto unhealthy = cli("cluster health");
  INFO(unhealthy.output);
  CHECK(unhealthy.exit_code == 1);
  CHECK_THAT(unhealthy.output, Catch::Contains("brokers: 2 of 3 serve"));
  CHECK_THAT(unhealthy.output, Catch::Contains(fmt::format("problem: broker 3 ({}) does not serve", cluster.broker(3).address())));
  CHECK_THAT(unhealthy.output, Catch::Contains("is under-replicated: replicas"));
  CHECK_THAT(unhealthy.output, Catch::EndsWith("unhealthy\n"));
  auto refused = cli("topic create three --replication-factor 3");
  CHECK(refused.exit_code == 1);
  CHECK_THAT(refused.output, Catch::Contains("3 (not heard from for 5 s)"));
  CHECK(cli("topic create two --replication-factor 2").exit_code == 0);
}

TEST_CASE("AGroupResumesFromItsCommittedOffsetsAfterItsCoordinatorIsKilled", "[integration][cluster][group]") {
  // Aged: the offsets topic's retention has dropped the commit's own record
  // by the time the coordinator dies; the coordinator's rewrite must have
  // kept the offsets.
  bool aged = GENERATE(false, true);
  INFO((aged ? "after retention passed the commit" : "at once"));
  LocalCluster cluster(aged ? std::vector<std::string>{"--offsets-topic-retention-ms", "4000",
                                                       "--retention-check-interval-ms", "300"}
                            : std::vector<std::string>{});
  cluster.create_topic("work", 3, 3);
  cluster.wait_for_leaders("work");
  {
    auto producer = cluster.producer();
    OffThreadFailures failures;
    for (int i = 0; i < 300; ++i) {
      producer->send({.topic = "work", .value = "job" + std::to_string(i), .partition = i % 3},
                     [&failures](const Result<RecordMetadata>& r) { failures.expect_ok(r.status(), "send"); });
    }
    producer->flush();
    CHECK_NO_OFF_THREAD_FAILURES(failures);
  }
  // The controller creates the offsets topic on its own.
  REQUIRE(eventually([&] { return cluster.admin->describe_topic(kOffsetsTopic).ok(); },
                     std::chrono::seconds(20)));
  cluster.wait_for_leaders(kOffsetsTopic);

  auto member = [&] {
    ConsumerOptions options;
    options.client = cluster.client_options();
    options.group_id = "billing";
    options.enable_auto_commit = false;
    options.auto_offset_reset = OffsetReset::earliest;
    options.fetch_max_wait_ms = 200;
    auto created = Consumer::create(options);
    REQUIRE(created.ok());
    REQUIRE((*created)->subscribe({"work"}).ok());
    return std::move(*created);
  };
  // The first member reads everything, and commits the middle of each
  // partition (offset 0 holds the first leader's no-op; records are 1..100).
  std::map<TopicPartition, Offset> committed;
  {
    auto first = member();
    auto records = consume(*first, 300, std::chrono::seconds(20));
    REQUIRE(records.size() == 300);
    for (int32_t p = 0; p < 3; ++p) committed[{"work", p}] = Offset(51);
    REQUIRE(first->commit_sync(committed).ok());
    first->close();
  }
  // Its coordinator: the leader of the group's offsets partition.
  const auto offsets_partition = offsets_partition_of("billing", 8);
  if (aged) {
    auto described = cluster.admin->describe_topic(kOffsetsTopic);
    REQUIRE(described.ok());
    Offset after_commit = described->partitions[static_cast<size_t>(offsets_partition)].high_watermark;
    bool dropped = eventually(
        [&] {
          auto now = cluster.admin->describe_topic(kOffsetsTopic);
          return now.ok() && now->partitions[static_cast<size_t>(offsets_partition)].log_start_offset >= after_commit;
        },
        std::chrono::seconds(30));
    INFO(cluster.log_tails());
    REQUIRE(dropped);
  }
  int32_t coordinator = cluster.wait_for_leaders(kOffsetsTopic)[static_cast<size_t>(offsets_partition)];
  cluster.broker(coordinator).kill();

  // The next member resumes from those commits, through the new coordinator.
  auto second = member();
  auto rest = consume(*second, 150, std::chrono::seconds(30));
  INFO(cluster.log_tails());
  std::map<TopicPartition, Offset> first_read;
  for (const auto& r : rest) first_read.try_emplace({r.topic, r.partition}, r.record.offset);
  CHECK(first_read == committed);
  CHECK(rest.size() == 150);
  auto described = cluster.admin->describe_group("billing");
  INFO(described.status().to_string());
  CHECK(described.ok());
}

TEST_CASE("AnAdminClientThatMetAHungBrokerAsksAnotherNext", "[integration][cluster]") {
  LocalCluster cluster;
  cluster.wait_for_controller();
  ClientOptions options = cluster.client_options();
  options.request_timeout_ms = 3'000;
  auto connected = Admin::connect(options);
  REQUIRE(connected.ok());
  auto& admin = **connected;
  cluster.broker(1).pause();  // the first broker listed: the first asked
  auto first = admin.list_topics();
  auto start = std::chrono::steady_clock::now();
  auto second = admin.list_topics();
  auto took = std::chrono::steady_clock::now() - start;
  cluster.broker(1).resume();
  INFO(first.status().to_string() << " / " << second.status().to_string());
  CHECK(first.status().code() == ErrorCode::request_timed_out);
  CHECK(second.ok());
  CHECK(took < std::chrono::milliseconds(2'000));
}

TEST_CASE("ClusterRefusesBadConfigurationWithAMessage", "[integration][cluster]") {
  LocalCluster cluster;
  SECTION("a replication factor above the brokers there are") {
    Status refused = cluster.admin->create_topic({"too-many", 1, 4, {}});
    CHECK(refused.code() == ErrorCode::invalid_request);
    CHECK_THAT(refused.message(), Catch::Contains("the cluster has 3"));
  }
  SECTION("a broker restarted with another node's data folder") {
    cluster.broker(2).stop();
    BrokerProcess impostor(cluster.broker(2).data_dir(),
                           {"--node-id", "3", "--controller-voters", cluster.voters},
                           std::stoi(cluster.broker(2).address().substr(10)));
    CHECK_FALSE(impostor.start().ok());
  }
  SECTION("a broker given a voters list the others do not share") {
    int port = pick_free_port();
    BrokerProcess stranger(cluster.folder.path() + "/stranger",
                           {"--node-id", "4", "--controller-voters",
                            cluster.voters + fmt::format(",4@127.0.0.1:{}", port)},
                           port);
    REQUIRE(stranger.start().ok());
    // The others refuse its frames: it can never win a vote or lead.
    CHECK(eventually(
        [&] {
          std::ifstream log(cluster.broker(1).log_path());
          std::string text((std::istreambuf_iterator<char>(log)), {});
          return text.find("every broker of a cluster must be given the same list") != std::string::npos;
        },
        std::chrono::seconds(10)));
  }
}

TEST_CASE("ARollingRestartMovesLeadershipsFirstAndProducersSeeNoErrors", "[integration][cluster]") {
  LocalCluster cluster;
  cluster.create_topic("steady", 6, 3);
  cluster.wait_for_leaders("steady");
  // A producer sending all along with acks=all: it may be told not_leader
  // and retry, but no record may fail. (Declared before the producer, which
  // calls back into them until it is destroyed.)
  OffThreadFailures failures;
  std::atomic<int> acknowledged{0};
  std::atomic<bool> stopping{false};
  auto producer = cluster.producer(30'000);
  std::thread sender([&] {
    for (int i = 0; !stopping; ++i) {
      producer->send({.topic = "steady", .value = std::to_string(i), .partition = i % 6},
                     [&](const Result<RecordMetadata>& r) {
                       failures.expect_ok(r.status(), "send");
                       if (r.ok()) ++acknowledged;
                     });
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  StopAndJoinAtExit join_at_exit{stopping, sender};
  std::string last_seen;  // which replicas each partition's leader counted caught up, last time asked
  auto all_caught_up = [&] {
    auto topic = cluster.admin->describe_topic("steady");
    if (!topic.ok()) return false;
    last_seen.clear();
    bool all = true;
    for (const auto& p : topic->partitions) {
      last_seen += fmt::format("{}: leader {} caught up [{}]; ", p.partition, p.leader, fmt::join(p.caught_up, ","));
      all = all && p.caught_up.size() == 3;
    }
    return all;
  };
  // Every running broker but `leaving` names a leader other than `leaving`,
  // for each partition and for the controller.
  auto led_elsewhere = [&](int32_t leaving) {
    for (int32_t id = 1; id <= 3; ++id) {
      if (id == leaving || !cluster.broker(id).running()) continue;
      auto metadata = LocalCluster::metadata(cluster.broker(id), {});
      if (!metadata || metadata->controller_id() < 1 || metadata->controller_id() == leaving) return false;
      auto described = LocalCluster::describe(cluster.broker(id), "steady");
      if (!described) return false;
      for (const auto& p : described->partitions()) {
        if (p.leader() < 1 || p.leader() == leaving) return false;
      }
    }
    return true;
  };
  for (int32_t id = 1; id <= 3; ++id) {
    INFO("restarting broker " << id);
    bool caught_up = eventually(all_caught_up, std::chrono::seconds(60));  // a restarted broker catches up first
    INFO(last_seen << "\n" << cluster.log_tails(20));
    REQUIRE(caught_up);
    cluster.broker(id).begin_stop();  // SIGTERM
    // While it is still shutting down (its gRPC grace alone is 5 s), its
    // partitions and the controller are led elsewhere within a second...
    bool handed_over = eventually([&] { return led_elsewhere(id); }, std::chrono::seconds(1));
    INFO(cluster.log_tails(25));
    CHECK(handed_over);
    cluster.broker(id).wait_for_exit();
    // ...because it handed them over, each to a caught-up follower, rather
    // than leaving them to an election once it stopped taking part.
    std::ifstream log(cluster.broker(id).log_path());
    std::string text((std::istreambuf_iterator<char>(log)), {});
    CHECK_THAT(text, Catch::Contains("shutting down: handing leadership of"));
    CHECK_THAT(text, Catch::Contains("handing leadership to broker"));
    CHECK_THAT(text, !Catch::Contains("still led here"));
    int before = acknowledged;
    CHECK(eventually([&] { return acknowledged > before + 20; }, std::chrono::seconds(10)));
    REQUIRE(cluster.broker(id).start().ok());
  }
  stopping = true;
  sender.join();
  producer->flush();
  CHECK_NO_OFF_THREAD_FAILURES(failures);
  CHECK(acknowledged > 60);
  // Nothing failed, so the producer never had to start a new epoch: each
  // leader change kept its sequences going (a send that reached a new
  // leader ahead of an older one left with the old leader is retried
  // behind it, not renumbered).
  for (int32_t partition = 0; partition < 6; ++partition) {
    auto epochs = LocalCluster::producer_epochs(cluster.broker(1), "steady", partition);
    INFO("partition " << partition << ": batches per epoch " << fmt::format("{}", epochs));
    REQUIRE(epochs.size() == 1);
    CHECK(epochs.begin()->first == 0);
  }
}

// A producer with a backlog has several sends of a partition in flight
// when its leader dies or hangs. Every record still lands once and in
// order, and the producer keeps its epoch: a send that reached the new
// leader ahead of an older one is retried behind it, not renumbered (a new
// epoch would restart every partition's sequences).
TEST_CASE("LeaderChangesWithSendsInFlightKeepTheProducersEpoch", "[integration][cluster]") {
  LocalCluster cluster;
  cluster.create_topic("backlog", 3, 3);
  cluster.wait_for_leaders("backlog");
  OffThreadFailures failures;  // before the producer, which calls back into them
  Acknowledged acked(failures);
  ProducerOptions options;
  options.client = cluster.client_options();
  options.client.request_timeout_ms = 1'500;  // a hung leader's sends are given up on while it hangs
  options.batch_bytes = 1'024;
  options.linger_ms = 0;
  options.buffer_bytes = 256 * 1024;
  auto created = Producer::create(options);
  REQUIRE(created.ok());
  auto producer = std::move(*created);
  std::atomic<bool> stopping{false};
  std::thread sender([&] {
    for (int i = 0; !stopping; ++i) {
      std::string value = fmt::format("{:08}-{}", i, std::string(200, 'v'));
      producer->send({.topic = "backlog", .value = value, .partition = i % 3},
                     [&acked, value](const Result<RecordMetadata>& sent) { acked.add(sent, value); });
    }
  });
  StopAndJoinAtExit join_at_exit{stopping, sender};
  for (int round = 0; round < 4; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1'000));
    int32_t leader = cluster.wait_for_leaders("backlog")[static_cast<size_t>(round % 3)];
    if (round % 2 == 0) {
      cluster.broker(leader).pause();  // past the election timeout
      std::this_thread::sleep_for(std::chrono::milliseconds(2'500));
      cluster.broker(leader).resume();
    } else {
      cluster.broker(leader).kill();
      std::this_thread::sleep_for(std::chrono::milliseconds(1'000));
      REQUIRE(cluster.broker(leader).start().ok());
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1'000));
  stopping = true;
  sender.join();
  producer->flush();
  CHECK_NO_OFF_THREAD_FAILURES(failures);
  auto records = acked.snapshot();
  size_t total = 0;
  for (const auto& [partition, by_offset] : records) total += by_offset.size();
  INFO(total << " records acknowledged");
  REQUIRE(total > 10'000);
  auto leaders = cluster.wait_for_leaders("backlog");
  for (int32_t partition = 0; partition < 3; ++partition) {
    const auto& by_offset = records[partition];
    auto& broker = cluster.broker(leaders[static_cast<size_t>(partition)]);
    auto stored = LocalCluster::read_replica(broker, "backlog", partition, by_offset.rbegin()->first + 1);
    std::vector<std::string> values;  // in log order; each value starts with its send number
    for (const auto& [offset, value] : stored) values.push_back(value);
    INFO("partition " << partition << ": " << stored.size() << " records stored");
    CHECK(std::is_sorted(values.begin(), values.end()));
    CHECK(std::adjacent_find(values.begin(), values.end()) == values.end());
    size_t misplaced = 0;
    for (const auto& [offset, value] : by_offset) misplaced += stored[offset] != value;
    CHECK(misplaced == 0);
    auto epochs = LocalCluster::producer_epochs(broker, "backlog", partition);
    INFO("batches per producer epoch " << fmt::format("{}", epochs));
    REQUIRE(epochs.size() == 1);
    CHECK(epochs.begin()->first == 0);
  }
}

TEST_CASE("AProducersFirstUseCreatesAReplicatedTopicThroughTheController", "[integration][cluster]") {
  LocalCluster cluster({"--auto-create-topics", "--default-partitions", "2"});
  auto producer = cluster.producer();
  for (int i = 0; i < 20; ++i) {
    auto sent = producer->send({.topic = "fresh", .value = "v" + std::to_string(i)}).get();
    INFO(sent.status().to_string());
    REQUIRE(sent.ok());
  }
  auto topic = cluster.admin->describe_topic("fresh");
  REQUIRE(topic.ok());
  CHECK(topic->partitions.size() == 2);
  for (const auto& p : topic->partitions) CHECK(p.replicas.size() == 3);

  // A queue's worker shares it too, through the share group's coordinator.
  ShareConsumerOptions share;
  share.client = cluster.client_options();
  share.group_id = "workers";
  auto worker = ShareConsumer::create(share);
  REQUIRE(worker.ok());
  REQUIRE((*worker)->subscribe({"fresh"}).ok());
  std::set<std::string> shared;
  REQUIRE(eventually(
      [&] {
        auto records = (*worker)->poll(std::chrono::milliseconds(500));
        INFO(records.status().to_string());
        REQUIRE(records.ok());
        for (const auto& r : *records) shared.insert(*r.value());
        return shared.size() == 20;
      },
      std::chrono::seconds(20)));
}
