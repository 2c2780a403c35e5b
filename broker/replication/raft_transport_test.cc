// RaftTransport and RaftService over real gRPC on 127.0.0.1: messages
// arrive whole and in order, a burst of heartbeats shares frames, a peer
// that is down costs bounded memory and is reached once it is up, a
// misaddressed or malformed message goes nowhere. Then Raft groups whose
// logs are segment logs elect, replicate and fail over across brokers
// through this transport, in real time.

#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <thread>

#include "broker/raft/consensus.h"
#include "broker/replication/raft_codec.h"
#include "broker/replication/raft_service.h"
#include "broker/replication/raft_test_util.h"
#include "broker/replication/raft_transport.h"
#include "broker/replication/segment_raft_log.h"
#include "storage/test_util.h"

using namespace cairn;
using namespace cairn::broker;
using namespace cairn::broker::testing;
using namespace std::chrono_literals;

namespace {

raft::Message heartbeat(int64_t term, int64_t commit) {
  return raft::AppendRequest{Term(term), raft::NodeId(1), Offset(commit), Term(term),
                             Offset(commit), {}};
}

}  // namespace

TEST_CASE("RaftTransport.MessagesArriveWholeAndInOrder", "[raft-transport]") {
  IoThread io;
  Endpoint two(2);
  RaftTransport transport(1, io.io);
  transport.set_peer(2, two.address());
  std::vector<std::pair<TopicPartition, raft::Message>> sent;
  for (int i = 0; i < 300; ++i) {
    TopicPartition group{"events", i % 3};
    raft::Message m;
    if (i % 2 == 0) {
      m = heartbeat(i, i);
    } else {
      m = raft::AppendRequest{Term(i), raft::NodeId(1), Offset(i), Term(i), Offset(i),
                              {raft::Entry{Term(i), Offset(i + 1), Offset(i + 3),
                                           raft::EntryType::data,
                                           storage::testing::make_batch(3, i)}}};
    }
    transport.send(2, group, m);
    sent.emplace_back(group, m);
  }
  auto received = two.wait_for(sent.size());
  REQUIRE(received.size() == sent.size());
  CHECK(received == sent);
  CHECK(transport.stats().messages_dropped == 0);
}

TEST_CASE("RaftTransport.ABurstOfHeartbeatsSharesFrames", "[raft-transport]") {
  IoThread io;
  Endpoint two(2);
  RaftTransport transport(1, io.io);
  transport.set_peer(2, two.address());
  // One tick's heartbeats of a broker leading 5,000 partitions on this peer.
  constexpr int kGroups = 5'000;
  for (int g = 0; g < kGroups; ++g) transport.send(2, {"t", g}, heartbeat(3, 100));
  REQUIRE(two.wait_for(kGroups).size() == kGroups);
  auto sent = transport.stats();
  CHECK(sent.messages_sent == kGroups);
  // One frame in flight at a time; everything queued meanwhile goes next.
  // Typically 2-5 frames; a loaded machine (CI) writes more, smaller ones,
  // still far from one per message.
  CHECK(sent.frames_sent < kGroups / 10);
  CHECK(two.service().stats().frames_received == sent.frames_sent);
  WARN(kGroups << " heartbeats in " << sent.frames_sent << " frames");
}

TEST_CASE("RaftTransport.APeerThatIsDownCostsBoundedMemoryAndIsReachedOnceUp",
          "[raft-transport]") {
  IoThread io;
  int port = 0;
  {
    Endpoint probe(2);  // finds a free port, then frees it
    port = probe.port();
  }
  RaftTransport::Options options;
  options.max_queued_messages = 100;
  options.reconnect_max_ms = 200;
  RaftTransport transport(1, io.io, options);
  transport.set_peer(2, "127.0.0.1:" + std::to_string(port));
  for (int i = 0; i < 1'000; ++i) {
    transport.send(2, {"t", 0}, heartbeat(1, i));
    if (i % 100 == 0) std::this_thread::sleep_for(10ms);
  }
  // At most max_queued_messages wait; the rest were dropped (or went into
  // frames that failed).
  auto stats = transport.stats();
  CHECK(stats.messages_dropped + stats.messages_sent >= 1'000 - 100);
  CHECK(stats.messages_dropped > 0);

  Endpoint two(2, port);
  // Raft resends on its own timers: keep sending until one lands.
  std::vector<std::pair<TopicPartition, raft::Message>> received;
  for (int i = 0; i < 100 && received.empty(); ++i) {
    transport.send(2, {"t", 0}, heartbeat(2, 5'000 + i));
    std::this_thread::sleep_for(50ms);
    received = two.wait_for(0);
  }
  REQUIRE_FALSE(received.empty());
  CHECK(transport.stats().reconnects > 0);
}

TEST_CASE("RaftTransport.AFrameForAnotherBrokerIsRefused", "[raft-transport]") {
  IoThread io;
  Endpoint two(2);
  RaftTransport transport(1, io.io);
  transport.set_peer(3, two.address());  // a peer list that points at the wrong broker
  for (int i = 0; i < 20; ++i) {
    transport.send(3, {"t", 0}, heartbeat(1, i));
    std::this_thread::sleep_for(5ms);
  }
  std::this_thread::sleep_for(200ms);
  CHECK(two.wait_for(0).empty());
  CHECK(two.service().stats().frames_received == 0);
}

TEST_CASE("RaftService.AMalformedMessageIsDroppedAndTheStreamGoesOn", "[raft-transport]") {
  Endpoint two(2);
  auto stub = v1::Raft::NewStub(grpc::CreateChannel(two.address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  v1::RaftSendSummary summary;
  auto writer = stub->Send(&context, &summary);
  v1::RaftFrame frame;
  frame.set_from_node(1);
  frame.set_to_node(2);
  v1::RaftEnvelope* bad = frame.add_messages();
  to_proto(heartbeat(1, 1), bad);
  bad->mutable_append_request()->set_term(-5);
  v1::RaftEnvelope* good = frame.add_messages();
  good->mutable_group()->set_topic("t");
  to_proto(heartbeat(1, 2), good);
  REQUIRE(writer->Write(frame));
  REQUIRE(writer->WritesDone());
  REQUIRE(writer->Finish().ok());
  auto received = two.wait_for(1);
  REQUIRE(received.size() == 1);
  CHECK(received[0].second == heartbeat(1, 2));
  CHECK(two.service().stats().messages_malformed == 1);
  CHECK(summary.messages() == 2);
}

namespace {

// A broker of the Raft test: a segment log, consensus, and the transport
// between brokers. Consensus has one owner at a time: `mutex`, taken by the
// tick thread and by the gRPC threads that deliver messages.
struct Broker {
  int32_t id;
  storage::testing::StoreFixture store{};
  std::shared_ptr<storage::PartitionLog> partition;
  std::unique_ptr<SegmentRaftLog> log;
  raft::InMemoryDurableState durable;
  raft::SteadyClock clock;
  std::unique_ptr<RaftTransport> transport;
  std::unique_ptr<raft::Transport> group_transport;
  std::unique_ptr<Endpoint> endpoint;
  std::mutex mutex;
  std::unique_ptr<raft::Consensus> raft;  // null: the broker is down
  Status failure;  // the first consensus error (checked on the test thread)

  void fail(Status s) {
    if (!s.ok() && failure.ok()) failure = s;
  }
  // Under `mutex`: lets consensus see what group commit made durable.
  void flush() {
    Offset before = log->flushed_index();
    fail(partition->flush_now());
    if (log->flushed_index() != before) fail(raft->on_log_flushed());
  }
};

const TopicPartition kGroup{"events", 0};

class RaftOverGrpc {
 public:
  explicit RaftOverGrpc(int size) {
    for (int i = 1; i <= size; ++i) {
      auto b = std::make_unique<Broker>();
      b->id = i;
      brokers_.push_back(std::move(b));
    }
    for (auto& b : brokers_) {
      Broker* broker = b.get();
      broker->endpoint = std::make_unique<Endpoint>(
          broker->id, 0, [broker](std::vector<AddressedMessage> frame) {
            std::lock_guard lock(broker->mutex);
            for (const auto& m : frame) {
              if (!broker->raft || m.group != kGroup) continue;
              broker->fail(broker->raft->handle(m.message));
              broker->flush();
            }
          });
    }
    for (auto& b : brokers_) start(*b);
    ticker_ = std::thread([this] { tick_loop(); });
  }

  ~RaftOverGrpc() {
    stop_ = true;
    ticker_.join();
    for (auto& b : brokers_) down(b->id);
  }

  Broker& at(int id) { return *brokers_.at(id - 1); }

  // Whoever leads, among the brokers up, within 10 s.
  int wait_for_leader(int not_this = 0) {
    for (int i = 0; i < 1'000; ++i) {
      for (auto& b : brokers_) {
        std::lock_guard lock(b->mutex);
        if (b->raft && b->id != not_this && b->raft->role() == raft::Role::leader) return b->id;
      }
      std::this_thread::sleep_for(10ms);
    }
    FAIL("no leader within 10 s");
    return 0;
  }

  Result<Offset> propose(int id, int i) {
    Broker& b = at(id);
    std::lock_guard lock(b.mutex);
    auto proposed = b.raft->propose(storage::testing::make_batch(2, 1000 + i, "v" + std::to_string(i)), 2);
    if (proposed.ok()) b.flush();
    return proposed;
  }

  // Waits (at most 10 s) until every broker up has committed `index`.
  bool wait_committed(Offset index) {
    for (int i = 0; i < 1'000; ++i) {
      bool all = true;
      for (auto& b : brokers_) {
        std::lock_guard lock(b->mutex);
        if (b->raft && b->raft->commit_index() < index) all = false;
      }
      if (all) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  // The broker stops: no ticks, no messages in or out (its server is gone).
  void down(int id) {
    Broker& b = at(id);
    b.endpoint.reset();
    std::lock_guard lock(b.mutex);
    b.raft.reset();
  }

  std::string committed_bytes(int id, Offset upto) {
    auto read = at(id).partition->read(Offset(0), 64 << 20, upto + 1);
    REQUIRE(read.ok());
    return read->bytes;
  }

  void check_no_failure() {
    for (auto& b : brokers_) {
      std::lock_guard lock(b->mutex);
      INFO("broker " << b->id << ": " << b->failure.to_string());
      CHECK(b->failure.ok());
    }
  }

 private:
  void start(Broker& b) {
    b.partition = b.store.log(storage::testing::manual_flush_config());
    b.log = std::make_unique<SegmentRaftLog>(*b.partition);
    b.transport = std::make_unique<RaftTransport>(b.id, io_.io);
    for (auto& peer : brokers_) {
      if (peer->id != b.id) b.transport->set_peer(peer->id, peer->endpoint->address());
    }
    b.group_transport = b.transport->for_group(kGroup);
    raft::RaftOptions options;
    options.self = raft::NodeId(b.id);
    for (auto& peer : brokers_) options.initial_voters.push_back(raft::NodeId(peer->id));
    options.random_seed = uint64_t(b.id) * 7919;
    std::lock_guard lock(b.mutex);
    b.raft = std::make_unique<raft::Consensus>(options, *b.log, b.durable, *b.group_transport,
                                               b.clock, [](const raft::Entry&) {});
    REQUIRE(b.raft->start().ok());
  }

  void tick_loop() {
    while (!stop_) {
      for (auto& b : brokers_) {
        std::lock_guard lock(b->mutex);
        if (!b->raft) continue;
        b->fail(b->raft->tick());
        b->flush();
      }
      std::this_thread::sleep_for(10ms);
    }
  }

  IoThread io_;
  std::vector<std::unique_ptr<Broker>> brokers_;
  std::atomic<bool> stop_{false};
  std::thread ticker_;
};

}  // namespace

TEST_CASE("RaftTransport.AGroupElectsReplicatesAndFailsOverAcrossBrokers", "[raft-transport][group]") {
  RaftOverGrpc cluster(3);
  int leader = cluster.wait_for_leader();
  Offset last;
  for (int i = 0; i < 50; ++i) {
    auto proposed = cluster.propose(leader, i);
    REQUIRE(proposed.ok());
    last = *proposed;
  }
  REQUIRE(cluster.wait_committed(last));
  std::string leader_bytes = cluster.committed_bytes(leader, last);
  for (int id = 1; id <= 3; ++id) CHECK(cluster.committed_bytes(id, last) == leader_bytes);

  // The leader's broker goes away; the other two elect one of themselves
  // and go on committing.
  cluster.down(leader);
  int next = cluster.wait_for_leader(leader);
  CHECK(next != leader);
  Offset more;
  for (int i = 50; i < 60; ++i) {
    auto proposed = cluster.propose(next, i);
    REQUIRE(proposed.ok());
    more = *proposed;
  }
  REQUIRE(cluster.wait_committed(more));
  for (int id = 1; id <= 3; ++id) {
    if (id == leader) continue;
    // The old leader's committed records are still there, byte for byte.
    CHECK(cluster.committed_bytes(id, last) == leader_bytes);
  }
  cluster.check_no_failure();
}
