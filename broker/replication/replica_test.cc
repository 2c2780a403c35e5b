// Replicated partitions: three brokers' Partition objects, each a Raft
// replica over its own segment log (group commit by the store's flusher),
// each broker's ReplicaManager ticking them and routing their messages over
// real gRPC on 127.0.0.1, in real time.
// Produce goes to the leader only; acks=all is answered once a majority
// has the records durable, never on fewer; acknowledged records survive
// the leader's loss.

#include <catch2/catch.hpp>


#include <atomic>
#include <thread>

#include "broker/partition.h"
#include "broker/raft_state_file.h"
#include "broker/replication/raft_test_util.h"
#include "broker/replication/replica_manager.h"
#include "storage/test_util.h"

using namespace cairn;
using namespace cairn::broker;
using namespace cairn::broker::testing;
using namespace std::chrono_literals;
using cairn::storage::testing::make_batch;

namespace {

const TopicPartition kTp{"events", 0};

struct Node {
  int32_t id = 0;
  storage::testing::StoreFixture store;
  std::unique_ptr<ReplicaManager> manager;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  std::mutex mutex;
  std::shared_ptr<Partition> partition;  // null while the broker is down

  std::shared_ptr<Partition> serving() {
    std::lock_guard lock(mutex);
    return partition;
  }
};

// What a produce request was told.
struct Outcome {
  std::mutex mutex;
  std::vector<Status> statuses;
  void add(Status s) {
    std::lock_guard lock(mutex);
    statuses.push_back(std::move(s));
  }
  size_t count() {
    std::lock_guard lock(mutex);
    return statuses.size();
  }
};

class ReplicatedCluster {
 public:
  explicit ReplicatedCluster(int size) {
    for (int i = 1; i <= size; ++i) {
      auto node = std::make_unique<Node>();
      node->id = i;
      ReplicaManager::Options options;
      options.self = i;
      node->manager = std::make_unique<ReplicaManager>(options, io_.io);
      grpc::ServerBuilder builder;
      builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
      builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &node->port);
      RaftService::allow_peer_keepalive(builder);
      builder.RegisterService(&node->manager->service());
      node->server = builder.BuildAndStart();
      REQUIRE(node->server);
      nodes_.push_back(std::move(node));
    }
    for (auto& node : nodes_) {
      for (auto& peer : nodes_) {
        if (peer->id == node->id) continue;
        node->manager->set_peer({peer->id, "127.0.0.1:" + std::to_string(peer->port)});
      }
      up(node->id);
    }
  }

  ~ReplicatedCluster() {
    for (auto& node : nodes_) {
      down(node->id);
      node->server->Shutdown(std::chrono::system_clock::now() + 1s);
      node->manager.reset();
    }
  }

  Node& node(int id) { return *nodes_.at(id - 1); }
  Partition& partition(int id) { return *node(id).serving(); }

  // Opens the node's partition from its store and starts its replica, of
  // incarnation `topic_id` of the topic.
  void up(int id, int64_t topic_id = 0) {
    Node& n = node(id);
    auto log = n.store.log();
    auto durable = RaftStateFile::open(n.store.env, n.store.dir.path() + "/raft/events-0");
    INFO(durable.status().to_string());
    REQUIRE(durable.ok());
    std::vector<int32_t> voters;
    for (auto& peer : nodes_) voters.push_back(peer->id);
    auto partition = Partition::serve_replicated(
        kTp, log, n.manager->setup_for(kTp, voters, std::move(*durable), topic_id));
    REQUIRE(partition.ok());
    n.manager->add(kTp, (*partition)->replica(), topic_id);
    std::lock_guard lock(n.mutex);
    n.partition = *partition;
  }

  // The broker stops: its replica answers nothing more.
  void down(int id) {
    Node& n = node(id);
    std::shared_ptr<Partition> partition;
    {
      std::lock_guard lock(n.mutex);
      partition = std::exchange(n.partition, nullptr);
    }
    n.manager->remove(kTp);
    if (partition) partition->replica()->stop();
  }

  // The leader among the brokers up (not `other_than`), within 10 s.
  int leader(int other_than = 0) {
    for (int i = 0; i < 1'000; ++i) {
      for (auto& n : nodes_) {
        auto p = n->serving();
        if (p && n->id != other_than && p->replica()->is_leader()) return n->id;
      }
      std::this_thread::sleep_for(10ms);
    }
    FAIL("no leader within 10 s");
    return 0;
  }

  // Produces one request of two batches with acks=all at broker `id`.
  Result<storage::AppendResult> produce(int id, int i, Outcome& outcome) {
    std::string a = make_batch(2, 1000 + i, "a" + std::to_string(i));
    std::string b = make_batch(3, 1000 + i, "b" + std::to_string(i));
    std::vector<std::span<const std::byte>> batches{as_bytes(a), as_bytes(b)};
    auto appended = partition(id).append(batches);
    if (appended.ok()) {
      partition(id).when_committed(*appended,
                                   [&outcome](Status s) { outcome.add(std::move(s)); });
    }
    return appended;
  }

  // One more acks=all request (5 records) at the leader `id`: it commits,
  // after every `acknowledged` value. The committed values then.
  std::vector<std::string> produce_after(int id, const std::vector<std::string>& acknowledged) {
    Outcome more;
    REQUIRE(produce(id, 100, more).ok());
    REQUIRE(eventually([&] { return more.count() == 1; }));
    CHECK(more.statuses[0].ok());
    auto values = committed_values(id);
    REQUIRE(values.size() == acknowledged.size() + 5);
    CHECK(std::vector<std::string>(values.begin(), values.begin() + std::ssize(acknowledged)) == acknowledged);
    return values;
  }

  static bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit = 10s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return true;
      std::this_thread::sleep_for(10ms);
    }
    return done();
  }

  // The values of the records below the high watermark at broker `id`,
  // as consumers see them.
  std::vector<std::string> committed_values(int id) {
    Partition& p = partition(id);
    std::vector<std::string> values;
    Offset next = p.log_start();
    while (next < p.high_watermark()) {
      auto read = p.read(next, 1 << 20);
      REQUIRE(read.ok());
      auto data = as_bytes(read->bytes);
      while (!data.empty()) {
        auto header = parse_batch_header(data, data.size());
        REQUIRE(header.ok());
        auto batch = data.subspan(0, header->size_bytes());
        data = data.subspan(header->size_bytes());
        if (header->is_control()) continue;  // a leader's no-op: not a record
        auto records = decode_batch(batch);
        REQUIRE(records.ok());
        for (const auto& r : *records) values.push_back(r.value.value_or(""));
      }
      next = read->next_offset;
    }
    return values;
  }

 private:
  IoThread io_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

}  // namespace

TEST_CASE("Replica.ProduceGoesToTheLeaderAndCommitsOnAMajority", "[replica]") {
  ReplicatedCluster cluster(3);
  int leader = cluster.leader();
  int follower = leader % 3 + 1;
  // A follower names the leader once the leader's first message reached it.
  REQUIRE(ReplicatedCluster::eventually(
      [&] { return cluster.partition(follower).replica()->leader() == leader; }));

  Outcome ignored;
  auto refused = cluster.produce(follower, 0, ignored);
  CHECK(refused.status().code() == ErrorCode::not_leader);
  CHECK_THAT(refused.status().message(),
             Catch::Contains("broker " + std::to_string(leader) + " is"));

  Outcome outcome;
  Offset end;
  for (int i = 0; i < 20; ++i) {
    auto appended = cluster.produce(leader, i, outcome);
    REQUIRE(appended.ok());
    if (i > 0) CHECK(appended->base_offset == end);
    end = appended->last_offset + 1;
  }
  REQUIRE(ReplicatedCluster::eventually([&] { return outcome.count() == 20; }));
  for (const Status& s : outcome.statuses) CHECK(s.ok());
  // Every replica learns the commit index, and serves exactly the leader's records.
  for (int id = 1; id <= 3; ++id) {
    INFO("broker " << id);
    REQUIRE(ReplicatedCluster::eventually(
        [&] { return cluster.partition(id).high_watermark() == end; }));
    CHECK(cluster.committed_values(id) == cluster.committed_values(leader));
    CHECK(cluster.committed_values(id).size() == 100);
  }
}

TEST_CASE("Replica.AReplicaOfAnotherIncarnationOfTheTopicTakesNoPart", "[replica]") {
  // Broker 3 deleted and re-created the topic; 1 and 2 still run the old
  // group. Their messages must not reach its new replica, nor its theirs.
  ReplicatedCluster cluster(3);
  cluster.down(3);
  cluster.up(3, 9);
  int leader = cluster.leader(3);
  Outcome outcome;
  for (int i = 0; i < 5; ++i) REQUIRE(cluster.produce(leader, i, outcome).ok());
  REQUIRE(ReplicatedCluster::eventually([&] { return outcome.count() == 5; }));
  for (const Status& s : outcome.statuses) CHECK(s.ok());
  std::this_thread::sleep_for(300ms);
  CHECK(cluster.partition(3).log_end() == cluster.partition(3).log_start());
  CHECK_FALSE(cluster.partition(3).replica()->is_leader());
  CHECK(cluster.node(3).manager->messages_for_unknown_groups() > 0);
  // Broker 3's new replica campaigns once its election timer fires.
  CHECK(ReplicatedCluster::eventually(
      [&] { return cluster.node(leader).manager->messages_for_unknown_groups() > 0; }));
}

TEST_CASE("Replica.ProposingNeverRunsAnotherProposalsCallbackOnTheCaller", "[replica]") {
  // A lone voter commits a proposal as soon as its log is flushed, which a
  // later proposal may notice first. Its callback must not run inside that
  // later append: the caller may hold a lock the callback takes (the group
  // coordinator appends commits under its mutex), and it would deadlock.
  ReplicatedCluster cluster(1);
  int leader = cluster.leader();
  auto test_thread = std::this_thread::get_id();
  std::atomic<bool> appending{false};
  std::atomic<int> inside_append{0};
  std::atomic<int> done{0};
  for (int i = 0; i < 2'000; ++i) {
    std::string batch = make_batch(1, 1000 + i, "v");
    appending = true;
    auto appended = cluster.partition(leader).append(as_bytes(batch));
    appending = false;
    REQUIRE(appended.ok());
    cluster.partition(leader).when_committed(*appended, [&](Status s) {
      if (appending && std::this_thread::get_id() == test_thread) ++inside_append;
      if (s.ok()) ++done;
    });
  }
  REQUIRE(ReplicatedCluster::eventually([&] { return done == 2'000; }));
  CHECK(inside_append == 0);
}

TEST_CASE("Replica.NoAcknowledgementWithoutAMajority", "[replica]") {
  ReplicatedCluster cluster(3);
  int leader = cluster.leader();
  for (int id = 1; id <= 3; ++id) {
    if (id != leader) cluster.down(id);
  }
  Outcome outcome;
  auto appended = cluster.produce(leader, 0, outcome);
  if (appended.ok()) {
    // Appended on the leader alone: never acknowledged as committed. The
    // leader steps down once it cannot reach a majority (check-quorum),
    // and the waiter learns so.
    REQUIRE(ReplicatedCluster::eventually([&] { return outcome.count() == 1; }));
    CHECK(outcome.statuses[0].code() == ErrorCode::not_leader);
  } else {
    CHECK(appended.status().code() == ErrorCode::not_leader);  // it stepped down first
  }
  CHECK(cluster.partition(leader).high_watermark() <= Offset(1));  // at most its no-op
}

TEST_CASE("Replica.AcknowledgedRecordsSurviveTheLeadersLoss", "[replica]") {
  ReplicatedCluster cluster(3);
  int leader = cluster.leader();
  Outcome outcome;
  for (int i = 0; i < 30; ++i) REQUIRE(cluster.produce(leader, i, outcome).ok());
  REQUIRE(ReplicatedCluster::eventually([&] { return outcome.count() == 30; }));
  for (const Status& s : outcome.statuses) REQUIRE(s.ok());
  std::vector<std::string> acknowledged = cluster.committed_values(leader);
  REQUIRE(acknowledged.size() == 150);

  cluster.down(leader);
  int next = cluster.leader(leader);
  REQUIRE(next != leader);
  // The new leader's no-op commits its term; then everything acknowledged
  // is there, in order, and more can be written.
  auto values = cluster.produce_after(next, acknowledged);

  // The old leader comes back as a follower and catches up.
  cluster.up(leader);
  REQUIRE(ReplicatedCluster::eventually(
      [&] { return cluster.partition(leader).high_watermark() == cluster.partition(next).high_watermark(); }));
  CHECK(cluster.committed_values(leader) == values);
}

TEST_CASE("Replica.AReplicaWhoseDiskFilledRunsAgainOnceThereIsRoomWithoutARestart", "[replica]") {
  ReplicatedCluster cluster(3);
  int leader = cluster.leader();
  int full = leader % 3 + 1;
  Partition* before = &cluster.partition(full);
  cluster.node(full).store.env.set_disk_full(true);
  Outcome outcome;
  for (int i = 0; i < 30; ++i) REQUIRE(cluster.produce(leader, i, outcome).ok());
  // A majority without it.
  REQUIRE(ReplicatedCluster::eventually([&] { return outcome.count() == 30; }));
  for (const Status& s : outcome.statuses) REQUIRE(s.ok());
  Offset committed = cluster.partition(leader).high_watermark();
  CHECK(cluster.partition(full).high_watermark() < committed);

  // Its write failed, so its group stopped; with room again it runs anew
  // (within its first backoffs) and catches up, the same replica object.
  cluster.node(full).store.env.set_disk_full(false);
  REQUIRE(ReplicatedCluster::eventually(
      [&] { return cluster.partition(full).high_watermark() >= committed; }, 20s));
  CHECK(&cluster.partition(full) == before);
  CHECK(cluster.committed_values(full) == cluster.committed_values(leader));
}

TEST_CASE("Replica.ALeaderWhoseSyncFailsStopsWithoutCrashingAndTheOthersGoOn", "[replica]") {
  ReplicatedCluster cluster(3);
  int leader = cluster.leader();
  Outcome outcome;
  REQUIRE(cluster.produce(leader, 0, outcome).ok());
  REQUIRE(ReplicatedCluster::eventually([&] { return outcome.count() == 1; }));
  // The leader's next sync fails while it replicates: its log stops, and
  // reading entries past its flushed end for the followers fails. (Consensus
  // used to clear its followers' progress while iterating over it: a crash.)
  cluster.node(leader).store.env.fail_next_syncs(1);
  for (int i = 1; i < 5; ++i) (void)cluster.produce(leader, i, outcome);
  REQUIRE(ReplicatedCluster::eventually([&] { return cluster.partition(leader).replica()->role() == "stopped"; }));
  // A log stopped by a failed sync is not restarted in place; the others elect and go on.
  int next = cluster.leader(leader);
  Outcome more;
  REQUIRE(cluster.produce(next, 100, more).ok());
  REQUIRE(ReplicatedCluster::eventually([&] { return more.count() == 1; }));
  CHECK(more.statuses[0].ok());
  std::this_thread::sleep_for(1500ms);  // past the first restart backoff
  CHECK(cluster.partition(leader).replica()->role() == "stopped");
}

TEST_CASE("Replica.ARestartedReplicaServesWhatItKnewCommittedWithoutALeaderOrReadingItsLogAgain", "[replica]") {
  ReplicatedCluster cluster(3);
  int leader = cluster.leader();
  Outcome outcome;
  for (int i = 0; i < 30; ++i) REQUIRE(cluster.produce(leader, i, outcome).ok());
  REQUIRE(ReplicatedCluster::eventually([&] { return outcome.count() == 30; }));
  const Offset committed = cluster.partition(leader).high_watermark();
  int follower = leader % 3 + 1;
  REQUIRE(ReplicatedCluster::eventually([&] { return cluster.partition(follower).high_watermark() == committed; }));
  auto acknowledged = cluster.committed_values(follower);
  REQUIRE(acknowledged.size() == 150);

  // Every broker stops; the follower alone starts again: no leader, no
  // commit news. Its checkpoint (kept with its index) says what was
  // committed, so consensus neither waits for a leader nor applies the log
  // from its start again to serve it.
  for (int id = 1; id <= 3; ++id) cluster.down(id);
  REQUIRE(cluster.node(follower).store.store->close().ok());
  cluster.node(follower).store.reopen();
  cluster.up(follower);
  CHECK(ReplicatedCluster::eventually([&] { return cluster.partition(follower).high_watermark() == committed; }, 2s));
  CHECK(cluster.committed_values(follower) == acknowledged);
  CHECK_FALSE(cluster.partition(follower).replica()->is_leader());
}

TEST_CASE("Replica.ALeaderThatReadsDamageInItsLogStepsDownAndIsRepairedFromTheOthers", "[replica]") {
  ReplicatedCluster cluster(3);
  int damaged = cluster.leader();
  Outcome outcome;
  for (int i = 0; i < 30; ++i) REQUIRE(cluster.produce(damaged, i, outcome).ok());
  REQUIRE(ReplicatedCluster::eventually([&] { return outcome.count() == 30; }));
  std::vector<std::string> acknowledged = cluster.committed_values(damaged);
  REQUIRE(acknowledged.size() == 150);

  // A byte of its last batch goes bad on the disk; a consumer's read finds it.
  Node& node = cluster.node(damaged);
  REQUIRE(node.store.env.flip_byte(node.store.dir.path() + "/events/0/00000000000000000000.log", 5));
  auto read = cluster.partition(damaged).read(Offset(0), 1 << 20);
  REQUIRE_FALSE(read.ok());
  // Retriable: the consumer asks the leader, which is soon another broker.
  CHECK(read.status().code() == ErrorCode::not_leader);
  CHECK_THAT(read.status().message(), Catch::Contains("damaged"));

  // It steps down and cuts its log there; the others lead, and it gets the
  // records back from them.
  int next = cluster.leader(damaged);
  auto values = cluster.produce_after(next, acknowledged);
  REQUIRE(ReplicatedCluster::eventually([&] {
    return cluster.partition(damaged).high_watermark() == cluster.partition(next).high_watermark();
  }));
  CHECK(cluster.committed_values(damaged) == values);
  CHECK(cluster.partition(damaged).replica()->damage_repairs() == 1);
  CHECK(ReplicatedCluster::eventually([&] { return !cluster.partition(damaged).replica()->repairing(); }));
  auto state = RaftStateFile::open(node.store.env, node.store.dir.path() + "/raft/events-0");
  REQUIRE(state.ok());
  CHECK_FALSE((*state)->hard_state().lost_end.has_value());  // repaired: it votes again
}

TEST_CASE("Replica.ARetryAtANewLeaderIsAnsweredWithWhereTheFirstAttemptLanded", "[replica][idempotence]") {
  ReplicatedCluster cluster(3);
  int leader = cluster.leader();
  auto batch = [](int32_t sequence, int count, const std::string& tag) {
    RecordBatchBuilder builder;
    for (int i = 0; i < count; ++i) builder.add(std::nullopt, tag + "-" + std::to_string(i), {}, 1'000 + i);
    builder.set_producer(/*producer_id=*/9, /*epoch=*/0, sequence);
    return builder.build().value();
  };
  std::string a = batch(0, 3, "a");
  auto first = cluster.partition(leader).append(as_bytes(a));
  REQUIRE(first.ok());
  Outcome outcome;
  cluster.partition(leader).when_committed(*first, [&outcome](Status s) { outcome.add(std::move(s)); });
  REQUIRE(ReplicatedCluster::eventually([&] { return outcome.count() == 1; }));
  REQUIRE(outcome.statuses[0].ok());

  // The acknowledgement is lost with the leader; the producer retries at the next one.
  cluster.down(leader);
  int next = cluster.leader(leader);
  Result<storage::AppendResult> retried = error(ErrorCode::not_leader, "not yet");
  // Until the new leader's term is its own (its no-op), it may refuse.
  REQUIRE(ReplicatedCluster::eventually([&] {
    retried = cluster.partition(next).append(as_bytes(a));
    return retried.ok();
  }));
  CHECK(retried->base_offset == first->base_offset);
  CHECK(retried->last_offset == first->last_offset);
  Outcome again;
  cluster.partition(next).when_committed(*retried, [&again](Status s) { again.add(std::move(s)); });
  REQUIRE(ReplicatedCluster::eventually([&] { return again.count() == 1; }));
  CHECK(again.statuses[0].ok());

  std::string b = batch(3, 2, "b");
  auto appended = cluster.partition(next).append(as_bytes(b));
  REQUIRE(appended.ok());
  CHECK(appended->base_offset > first->last_offset);
  std::string skipped = batch(9, 1, "gap");
  CHECK(cluster.partition(next).append(as_bytes(skipped)).status().code() == ErrorCode::out_of_order_sequence);
  REQUIRE(ReplicatedCluster::eventually([&] { return cluster.committed_values(next).size() == 5; }));
  CHECK(cluster.committed_values(next) == std::vector<std::string>{"a-0", "a-1", "a-2", "b-0", "b-1"});
}
