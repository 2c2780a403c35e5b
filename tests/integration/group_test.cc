#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "cairn/v1/groups.grpc.pb.h"
#include "cluster_fixture.h"

using namespace cairn;
using namespace cairn::testing;

namespace {

// Sends n records and waits for them; failed sends go to `failures`, checked
// by the test thread.
void produce_n(SingleBroker& cluster, OffThreadFailures& failures, const std::string& topic, int n,
               const std::string& tag = "r", std::optional<int64_t> timestamp_ms = std::nullopt) {
  auto producer = cluster.producer();
  for (int i = 0; i < n; ++i) {
    producer->send({.topic = topic, .key = tag + std::to_string(i % 50), .value = tag + "-" + std::to_string(i), .timestamp_ms = timestamp_ms},
                   [&](const Result<RecordMetadata>& r) { failures.expect_ok(r.status(), "send"); });
  }
  producer->flush();
}

// On the test thread: sends n records and asserts they were all acknowledged.
void produce_n(SingleBroker& cluster, const std::string& topic, int n, const std::string& tag = "r",
               std::optional<int64_t> timestamp_ms = std::nullopt) {
  OffThreadFailures failures;
  produce_n(cluster, failures, topic, n, tag, timestamp_ms);
  CHECK_NO_OFF_THREAD_FAILURES(failures);
}

std::unique_ptr<Consumer> group_consumer(SingleBroker& cluster, const std::string& group,
                                         int32_t session_timeout_ms = 3'000) {
  ConsumerOptions options;
  options.client = cluster.client_options();
  options.group_id = group;
  options.auto_offset_reset = OffsetReset::earliest;
  options.fetch_max_wait_ms = 100;
  options.session_timeout_ms = session_timeout_ms;
  options.auto_commit_interval_ms = 200;
  auto created = Consumer::create(options);
  REQUIRE(created.ok());
  return std::move(*created);
}

// Polls (for a group consumer) until `count` values arrived or nothing came for `idle`.
std::vector<std::string> values(Consumer& consumer, size_t count,
                                std::chrono::milliseconds idle = std::chrono::seconds(6)) {
  std::vector<std::string> out;
  for (const auto& r : consume(consumer, count, idle)) out.push_back(*r.record.value);
  return out;
}

}  // namespace

TEST_CASE("EveryGroupGetsEveryRecord", "[integration][groups]") {
  SingleBroker cluster;
  cluster.create_topic("news", 3);
  produce_n(cluster, "news", 600);
  for (const char* group : {"mailer", "indexer"}) {
    auto consumer = group_consumer(cluster, group);
    REQUIRE(consumer->subscribe({"news"}).ok());
    auto got = values(*consumer, 600);
    std::set<std::string> unique(got.begin(), got.end());
    CHECK(got.size() == 600);
    CHECK(unique.size() == 600);
    consumer->close();
  }
  auto groups = cluster.admin->list_groups();
  REQUIRE(groups.ok());
  CHECK(groups->size() == 2);
  auto mailer = cluster.admin->describe_group("mailer");
  REQUIRE(mailer.ok());
  CHECK(mailer->state == "empty");
  for (const auto& p : mailer->partitions) CHECK(p.lag == 0);
}

TEST_CASE("MembersSharePartitionsAndOwnershipConverges", "[integration][groups]") {
  SingleBroker cluster;
  cluster.create_topic("jobs", 6);
  constexpr int kRecords = 3000;
  std::mutex mutex;
  std::multiset<std::string> seen;
  std::atomic<bool> stop{false};
  OffThreadFailures failures;
  auto member = [&](int leave_after_ms) {
    return std::thread([&, leave_after_ms] {
      auto consumer = group_consumer(cluster, "workers");
      if (!failures.expect_ok(consumer->subscribe({"jobs"}), "subscribe")) return;
      auto start = std::chrono::steady_clock::now();
      while (!stop) {
        if (leave_after_ms > 0 && std::chrono::steady_clock::now() - start > std::chrono::milliseconds(leave_after_ms)) break;
        auto records = consumer->poll(std::chrono::milliseconds(100));
        if (!failures.expect_ok(records.status(), "poll")) break;
        std::lock_guard lock(mutex);
        for (const auto& r : *records) seen.insert(*r.record.value);
      }
      consumer->close();
    });
  };
  std::vector<std::thread> members;
  members.push_back(member(0));
  members.push_back(member(0));
  members.push_back(member(4000));  // leaves midway
  // Ownership is exclusive at every look while records flow and members come and go.
  std::thread producer([&] { produce_n(cluster, failures, "jobs", kRecords / 2, "a"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  members.push_back(member(0));  // a fourth joins
  producer.join();
  produce_n(cluster, "jobs", kRecords / 2, "b");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  bool converged = false;
  while (std::chrono::steady_clock::now() < deadline) {
    auto g = cluster.admin->describe_group("workers");
    REQUIRE(g.ok());
    std::map<TopicPartition, int> owners;
    for (const auto& m : g->members) {
      for (const auto& tp : m.assignment) ++owners[tp];
    }
    for (const auto& [tp, count] : owners) CHECK(count == 1);
    {
      std::lock_guard lock(mutex);
      std::set<std::string> unique(seen.begin(), seen.end());
      converged = g->members.size() == 3 && g->state == "stable" && owners.size() == 6 &&
                  unique.size() == kRecords;
    }
    if (converged) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  stop = true;
  for (auto& t : members) t.join();
  CHECK_NO_OFF_THREAD_FAILURES(failures);
  CHECK(converged);
  std::set<std::string> unique(seen.begin(), seen.end());
  CHECK(unique.size() == kRecords);  // nothing lost
  INFO("records delivered twice around the rebalances: " << seen.size() - unique.size());
  CHECK(seen.size() - unique.size() < kRecords / 10);
}

TEST_CASE("CommitWithStaleEpochOrUnknownMemberIsRejected", "[integration][groups]") {
  SingleBroker cluster;
  cluster.create_topic("t", 2);
  auto stub = v1::Groups::NewStub(grpc::CreateChannel(cluster.broker.address(), grpc::InsecureChannelCredentials()));
  v1::HeartbeatRequest join;
  join.set_group("g");
  join.add_topics("t");
  v1::HeartbeatResponse joined;
  {
    grpc::ClientContext context;
    REQUIRE(stub->Heartbeat(&context, join, &joined).ok());
  }
  REQUIRE(joined.error().code() == v1::NONE);
  REQUIRE(joined.member_epoch() > 0);
  auto commit = [&](const std::string& member, int32_t epoch) {
    v1::CommitOffsetsRequest request;
    request.set_group("g");
    request.set_member_id(member);
    request.set_member_epoch(epoch);
    auto* o = request.add_offsets();
    o->set_topic("t");
    o->set_offset(1);
    grpc::ClientContext context;
    v1::CommitOffsetsResponse response;
    REQUIRE(stub->CommitOffsets(&context, request, &response).ok());
    return response.error().code();
  };
  CHECK(commit(joined.member_id(), joined.member_epoch()) == v1::NONE);
  CHECK(commit(joined.member_id(), joined.member_epoch() - 1) == v1::STALE_MEMBER_EPOCH);
  CHECK(commit("nobody", 1) == v1::UNKNOWN_MEMBER_ID);
  CHECK(commit("", 0) == v1::GROUP_NOT_EMPTY);  // outsiders may not commit while members are active
}

TEST_CASE("CommittedOffsetsSurviveRestartsAndConsumersResume", "[integration][groups]") {
  // A clean stop, a SIGKILL (which keeps the page cache) and a power cut
  // (which keeps only what was synced). Syncs take 300 ms: a commit
  // answered before its sync would still be unsynced at the kill.
  enum class End { stop, kill, power_cut };
  auto end = GENERATE(End::stop, End::kill, End::power_cut);
  CAPTURE(static_cast<int>(end));
  SyncJournal journal;
  SingleBroker cluster(journal.broker_args(/*sync_delay_ms=*/300));
  cluster.create_topic("ledger", 2);
  produce_n(cluster, "ledger", 200);
  {
    auto consumer = group_consumer(cluster, "auditors");
    REQUIRE(consumer->subscribe({"ledger"}).ok());
    CHECK(values(*consumer, 200).size() == 200);
    REQUIRE(consumer->commit_sync().ok());
    consumer->close();
  }
  if (end == End::stop) {
    cluster.broker.stop();
  } else {
    cluster.broker.kill();
  }
  if (end == End::power_cut) journal.cut();
  REQUIRE(cluster.broker.start().ok());
  produce_n(cluster, "ledger", 50, "late");
  auto consumer = group_consumer(cluster, "auditors");
  REQUIRE(consumer->subscribe({"ledger"}).ok());
  auto got = values(*consumer, 50, std::chrono::seconds(3));
  CHECK(got.size() == 50);  // only what came after the commit
  for (const auto& v : got) CHECK(v.rfind("late", 0) == 0);
}

TEST_CASE("ResetOffsetsRewindsAGroup", "[integration][groups]") {
  SingleBroker cluster;
  cluster.create_topic("audit", 1);
  produce_n(cluster, "audit", 100, "old", 1'000'000);
  produce_n(cluster, "audit", 100, "new", 2'000'000);
  {
    auto consumer = group_consumer(cluster, "replayers");
    REQUIRE(consumer->subscribe({"audit"}).ok());
    CHECK(values(*consumer, 200).size() == 200);
    consumer->close();
  }
  auto read_again = [&] {
    auto consumer = group_consumer(cluster, "replayers");
    REQUIRE(consumer->subscribe({"audit"}).ok());
    auto got = values(*consumer, 1000, std::chrono::seconds(2));
    consumer->close();
    return got;
  };
  TopicPartition tp{"audit", 0};
  REQUIRE(cluster.admin->commit_offsets("replayers", {{tp, Offset(190)}}).ok());
  CHECK(read_again().size() == 10);
  REQUIRE(cluster.admin->commit_offsets("replayers", {{tp, Offset(0)}}).ok());
  CHECK(read_again().size() == 200);  // a new subscriber replays the full history
  auto at_time = cluster.admin->list_offset("audit", 0, OffsetSpec::at_time(2'000'000));
  REQUIRE(at_time.ok());
  REQUIRE(cluster.admin->commit_offsets("replayers", {{tp, *at_time}}).ok());
  auto from_time = read_again();
  REQUIRE(from_time.size() == 100);
  CHECK(from_time.front().rfind("new", 0) == 0);
}

TEST_CASE("RecreatedTopicDoesNotResumeAGroupAtAStaleOffset", "[integration][groups]") {
  SingleBroker cluster;
  cluster.create_topic("events", 1);
  produce_n(cluster, "events", 50, "old");
  {
    auto consumer = group_consumer(cluster, "readers");
    REQUIRE(consumer->subscribe({"events"}).ok());
    CHECK(values(*consumer, 50).size() == 50);
    consumer->close();  // commits offset 50
  }
  REQUIRE(cluster.admin->describe_group("readers")->partitions.at(0).committed == Offset(50));
  REQUIRE(cluster.admin->delete_topic("events").ok());
  cluster.create_topic("events", 1);
  produce_n(cluster, "events", 60, "new");
  // Restarted as well: what the log replays must agree.
  cluster.broker.stop();
  REQUIRE(cluster.broker.start().ok());
  auto consumer = group_consumer(cluster, "readers");
  REQUIRE(consumer->subscribe({"events"}).ok());
  auto got = values(*consumer, 60, std::chrono::seconds(3));
  CHECK(got.size() == 60);  // all of the new topic, not the 10 past offset 50
  consumer->close();
}

namespace {

// A `cairn consume --group` process printing PARTITION:OFFSET<tab>VALUE lines.
struct ConsumerProcess {
  pid_t pid = -1;
  std::string output;

  ConsumerProcess(const SingleBroker& cluster, const std::string& topic, const std::string& group,
                  const std::string& output_path)
      : output(output_path) {
    pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      int fd = ::open(output_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, STDOUT_FILENO);
      std::string cairn = bin_path("cairn");
      std::string brokers = cluster.broker.address();
      execl(cairn.c_str(), cairn.c_str(), "consume", topic.c_str(), "--group", group.c_str(),
            "--from", "beginning", "--print-offset", "--session-timeout-ms", "2000", "--brokers",
            brokers.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  ~ConsumerProcess() { kill_now(); }
  // SIGSTOP / SIGCONT: a member that hangs (no heartbeats, no polls) and wakes up.
  void pause() { ::kill(pid, SIGSTOP); }
  void resume() { ::kill(pid, SIGCONT); }
  void kill_now() {
    if (pid <= 0) return;
    ::kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    pid = -1;
  }
  std::vector<std::string> lines() const {
    std::ifstream in(output);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }
};

}  // namespace

TEST_CASE("KilledConsumerLosesItsPartitionsAndOnlyUncommittedRecordsRepeat", "[integration][groups]") {
  SingleBroker cluster;
  cluster.create_topic("tasks", 4);
  produce_n(cluster, "tasks", 400, "first");
  ConsumerProcess victim(cluster, "tasks", "crew", cluster.folder.path() + "/victim.out");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (victim.lines().size() < 400 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE(victim.lines().size() == 400);
  // A second member joins and takes half; then more records arrive.
  auto survivor = group_consumer(cluster, "crew", 2'000);
  REQUIRE(survivor->subscribe({"tasks"}).ok());
  std::vector<ConsumerRecord> got;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < until) {
    auto g = cluster.admin->describe_group("crew");
    REQUIRE(g.ok());
    if (g->members.size() == 2 && g->state == "stable") break;
    auto records = survivor->poll(std::chrono::milliseconds(100));
    REQUIRE(records.ok());
    for (auto& r : *records) got.push_back(std::move(r));
  }
  produce_n(cluster, "tasks", 400, "second");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  victim.kill_now();
  auto killed_at = std::chrono::steady_clock::now();
  bool took_over = false;
  while (std::chrono::steady_clock::now() - killed_at < std::chrono::seconds(15)) {
    auto records = survivor->poll(std::chrono::milliseconds(100));
    REQUIRE(records.ok());
    for (auto& r : *records) got.push_back(std::move(r));
    auto g = cluster.admin->describe_group("crew");
    if (!took_over && g.ok() && g->members.size() == 1 && g->members[0].assignment.size() == 4) {
      took_over = true;
      INFO("partitions moved " << std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::steady_clock::now() - killed_at).count() << " ms after the kill");
      CHECK(std::chrono::steady_clock::now() - killed_at < std::chrono::seconds(6));
    }
    if (took_over && records->empty()) break;
  }
  REQUIRE(took_over);
  std::set<std::string> by_victim;
  for (const auto& line : victim.lines()) by_victim.insert(line.substr(line.find('\t') + 1));
  std::set<std::string> by_survivor;
  size_t duplicates = 0;
  for (const auto& r : got) {
    by_survivor.insert(*r.record.value);
    if (by_victim.count(*r.record.value)) ++duplicates;
  }
  std::set<std::string> all(by_victim);
  all.insert(by_survivor.begin(), by_survivor.end());
  CHECK(all.size() == 800);  // nothing lost
  // Repeats are only what the victim printed after its last commit (it
  // commits every second): far fewer than everything it read.
  INFO("records read by both: " << duplicates << " of " << by_victim.size() << " read by the victim");
  CHECK(duplicates < by_victim.size() / 2);
}

namespace {

// The group's committed offset of each partition; absent when none.
std::map<TopicPartition, Offset> committed_offsets(SingleBroker& cluster, const std::string& group) {
  std::map<TopicPartition, Offset> out;
  auto g = cluster.admin->describe_group(group);
  if (!g.ok()) return out;
  for (const auto& p : g->partitions) {
    if (p.committed) out[p.tp] = *p.committed;
  }
  return out;
}

std::map<TopicPartition, Offset> log_ends(SingleBroker& cluster, const std::string& topic, int32_t partitions) {
  std::map<TopicPartition, Offset> out;
  for (int32_t p = 0; p < partitions; ++p) {
    out[{topic, p}] = *cluster.admin->list_offset(topic, p, OffsetSpec::latest());
  }
  return out;
}

bool stable_with(SingleBroker& cluster, const std::string& group, size_t members) {
  auto g = cluster.admin->describe_group(group);
  return g.ok() && g->state == "stable" && g->members.size() == members;
}

}  // namespace

// A member that stops heartbeating (paused) is fenced; another takes its
// partitions, reads on and commits. When the first wakes up and rejoins, it
// must drop what it held: no record from its old positions, no commit of
// them over the other member's progress; it starts at the committed offsets.
TEST_CASE("FencedMemberRejoinsFromTheCommittedOffsetsNotItsOldPositions", "[integration][groups]") {
  SingleBroker cluster;
  cluster.create_topic("chores", 2);
  produce_n(cluster, "chores", 200, "first");
  ConsumerProcess victim(cluster, "chores", "crew", cluster.folder.path() + "/victim.out");
  REQUIRE(eventually([&] { return committed_offsets(cluster, "crew") == log_ends(cluster, "chores", 2); },
                     std::chrono::seconds(15)));
  REQUIRE(victim.lines().size() == 200);

  victim.pause();
  produce_n(cluster, "chores", 200, "second");
  auto survivor = group_consumer(cluster, "crew", 2'000);
  REQUIRE(survivor->subscribe({"chores"}).ok());
  std::vector<std::string> by_survivor = values(*survivor, 200, std::chrono::seconds(10));
  REQUIRE(by_survivor.size() == 200);  // after the victim's session expired
  REQUIRE(survivor->commit_sync().ok());
  auto progress = log_ends(cluster, "chores", 2);
  REQUIRE(committed_offsets(cluster, "crew") == progress);

  victim.resume();
  REQUIRE(eventually([&] {
    for (const auto& v : values(*survivor, 1, std::chrono::milliseconds(100))) by_survivor.push_back(v);
    return stable_with(cluster, "crew", 2);
  }, std::chrono::seconds(15)));
  CHECK(committed_offsets(cluster, "crew") == progress);  // nothing committed from the old positions

  produce_n(cluster, "chores", 100, "third");
  auto third_by_victim = [&] {
    size_t n = 0;
    for (const auto& line : victim.lines()) n += line.find("\tthird-") != std::string::npos;
    return n;
  };
  CHECK(eventually([&] {
    for (const auto& v : values(*survivor, 1, std::chrono::milliseconds(100))) by_survivor.push_back(v);
    size_t third_by_survivor = 0;
    for (const auto& v : by_survivor) third_by_survivor += v.rfind("third-", 0) == 0;
    return third_by_victim() + third_by_survivor == 100;
  }, std::chrono::seconds(15)));
  CHECK(third_by_victim() > 0);  // it took a partition again
  size_t second_by_victim = 0;
  for (const auto& line : victim.lines()) second_by_victim += line.find("\tsecond-") != std::string::npos;
  CHECK(second_by_victim == 0);  // nothing re-read from its positions of before the fence
  CHECK(by_survivor.size() == 200 + 100 - third_by_victim());
  survivor->close();
}

TEST_CASE("CompactedTopicKeepsTheLatestValuePerKey", "[integration][groups]") {
  SingleBroker cluster({"--retention-check-interval-ms", "200"});
  cluster.create_topic("profiles", 1, {{"cleanup.policy", "compact"}, {"segment.bytes", "4096"}});
  auto producer = cluster.producer();
  for (int round = 0; round < 40; ++round) {
    for (int user = 0; user < 10; ++user) {
      producer->send({.topic = "profiles", .key = "user" + std::to_string(user), .value = "v" + std::to_string(round) + std::string(30, 'x'), .partition = 0});
    }
    producer->flush();  // a batch per round, so segments (4 KiB) roll and close
  }
  auto end = *cluster.admin->list_offset("profiles", 0, OffsetSpec::latest());
  CHECK(end == Offset(400));
  // The cleaner runs in the background; wait until the log shrank.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  std::vector<ConsumerRecord> records;
  while (std::chrono::steady_clock::now() < deadline) {
    auto consumer = cluster.consumer(OffsetReset::earliest);
    REQUIRE(consumer->assign({{"profiles", 0}}).ok());
    records = consume(*consumer, 400, std::chrono::milliseconds(800));
    if (records.size() < 100) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  REQUIRE(records.size() < 100);
  std::map<std::string, std::string> latest;
  Offset previous(-1);
  for (const auto& r : records) {
    CHECK(r.record.offset > previous);  // offsets unchanged, still increasing
    previous = r.record.offset;
    latest[*r.record.key] = r.record.value->substr(0, r.record.value->find('x'));
  }
  REQUIRE(latest.size() == 10);
  for (const auto& [key, value] : latest) CHECK(value == "v39");
  CHECK(*cluster.admin->list_offset("profiles", 0, OffsetSpec::latest()) == Offset(400));
}

TEST_CASE("PatternSubscriptionPicksUpNewTopicsAndPartitions", "[integration][groups]") {
  SingleBroker cluster;
  cluster.create_topic("metrics.cpu", 1);
  auto consumer = group_consumer(cluster, "dashboards");
  REQUIRE(consumer->subscribe_pattern("metrics\\..*").ok());
  produce_n(cluster, "metrics.cpu", 10, "cpu");
  CHECK(values(*consumer, 10).size() == 10);
  cluster.create_topic("metrics.disk", 2);  // appears later, matches the pattern
  cluster.create_topic("logs.app", 1);      // does not match
  produce_n(cluster, "metrics.disk", 20, "disk");
  produce_n(cluster, "logs.app", 5, "log");
  auto got = values(*consumer, 20);
  CHECK(got.size() == 20);
  for (const auto& v : got) CHECK(v.rfind("disk", 0) == 0);
  auto g = cluster.admin->describe_group("dashboards");
  REQUIRE(g.ok());
  REQUIRE(g->members.size() == 1);
  CHECK(g->members[0].assignment.size() == 3);
  consumer->close();
}

TEST_CASE("OffsetsOfAnEmptyGroupExpire", "[integration][groups]") {
  SingleBroker cluster({"--offsets-retention-ms", "1000"});
  cluster.create_topic("t", 1);
  REQUIRE(cluster.admin->commit_offsets("idle", {{{"t", 0}, Offset(0)}}).ok());
  CHECK(cluster.admin->describe_group("idle").ok());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (cluster.admin->describe_group("idle").ok() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  CHECK(cluster.admin->describe_group("idle").status().code() == ErrorCode::group_not_found);
  // ...and stay gone after a restart (the expiry wrote tombstones).
  cluster.broker.stop();
  REQUIRE(cluster.broker.start().ok());
  CHECK(cluster.admin->describe_group("idle").status().code() == ErrorCode::group_not_found);
}
