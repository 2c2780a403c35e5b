#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "broker/raft/consensus.h"
#include "broker/raft/in_memory_log.h"

namespace cairn::raft::testing {

// Keeps what a node sends until the test delivers, inspects or drops it.
class CapturingTransport final : public Transport {
 public:
  void send(NodeId to, Message message) override {
    if (on_send) on_send(to, message);
    outbox.emplace_back(to, std::move(message));
  }
  std::vector<std::pair<NodeId, Message>> outbox;
  std::function<void(NodeId to, const Message&)> on_send;  // sees each message as it is sent
};

struct TestNode {
  NodeId id;
  InMemoryLog log;
  InMemoryDurableState durable;
  ManualClock clock{0};
  CapturingTransport transport;
  std::unique_ptr<Consensus> raft;
  std::vector<Entry> applied;
  bool auto_flush = true;  // flush the log after every step
};

// A small cluster for unit tests, driven by hand: messages move only when
// the test calls deliver(), time only with advance_ms(). Nodes are 1..n.
// Single-threaded; deterministic (each node's timeout jitter is seeded by
// its id).
class TestCluster {
 public:
  explicit TestCluster(int node_count, std::function<void(RaftOptions&)> tweak = {});

  TestNode& node(int id) { return *nodes_.at(id - 1); }
  Consensus& raft(int id) { return *node(id).raft; }
  int size() const { return int(nodes_.size()); }

  void start(int id);
  // Loses the node's volatile state and its unflushed log tail.
  void crash(int id);
  bool alive(int id) { return node(id).raft != nullptr; }

  // Drops every message to or from an isolated node.
  void isolate(int id) { isolated_.insert(id); }
  void heal() { isolated_.clear(); }

  // Delivers messages until none are in flight; `drop` may discard some.
  void deliver(const std::function<bool(int from, int to, const Message&)>& drop = {});
  // Makes the node's log durable and tells consensus.
  void flush(int id);
  // Moves every live clock forward in 10 ms ticks, delivering in between.
  void advance_ms(int64_t ms);
  // Runs until some node leads (at most `limit_ms`); returns it.
  std::optional<int> wait_for_leader(int64_t limit_ms = 10'000);
  std::optional<int> leader();
  // Replaces a stopped node's disk: `entries` (term, record count) from
  // index 0, all flushed, and a saved term; then starts it.
  void restart_with_log(int id, const std::vector<std::pair<int64_t, int64_t>>& entries, Term term);
  // Stops the node and restarts it with its log cut at `from`, as disk
  // damage would leave it, repairing (HardState::lost_end), as a broker
  // whose recovery found entries it had made durable gone.
  void restart_damaged(int id, Offset from);
  // Lets the node's election timer expire and delivers the election.
  void campaign(int id, const std::function<bool(int from, int to, const Message&)>& drop = {});
  // Takes the messages a node sent, without delivering them.
  std::vector<std::pair<NodeId, Message>> take_outbox(int id);

 private:
  std::vector<std::unique_ptr<TestNode>> nodes_;
  std::function<void(RaftOptions&)> tweak_;
  std::set<int> isolated_;
};

}  // namespace cairn::raft::testing
