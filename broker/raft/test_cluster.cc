#include "broker/raft/test_cluster.h"

#include "proto/assert.h"

namespace cairn::raft::testing {

TestCluster::TestCluster(int node_count, std::function<void(RaftOptions&)> tweak)
    : tweak_(std::move(tweak)) {
  for (int i = 1; i <= node_count; ++i) {
    auto node = std::make_unique<TestNode>();
    node->id = NodeId(i);
    nodes_.push_back(std::move(node));
  }
  for (int i = 1; i <= node_count; ++i) start(i);
}

void TestCluster::start(int id) {
  TestNode& n = node(id);
  RaftOptions options;
  options.self = n.id;
  for (int i = 1; i <= size(); ++i) options.initial_voters.push_back(NodeId(i));
  options.random_seed = uint64_t(id) * 7919;
  if (tweak_) tweak_(options);
  n.applied.clear();
  n.raft = std::make_unique<Consensus>(options, n.log, n.durable, n.transport, n.clock,
                                       [&n](const Entry& e) { n.applied.push_back(e); });
  Status status = n.raft->start();
  CAIRN_ASSERT(status.ok());
}

void TestCluster::crash(int id) {
  TestNode& n = node(id);
  n.raft.reset();
  n.transport.outbox.clear();
  n.log.crash();
}

void TestCluster::flush(int id) {
  TestNode& n = node(id);
  if (n.raft && n.log.flush_to(n.log.last_index())) {
    Status status = n.raft->on_log_flushed();
    CAIRN_ASSERT(status.ok());
  }
}

std::vector<std::pair<NodeId, Message>> TestCluster::take_outbox(int id) {
  return std::exchange(node(id).transport.outbox, {});
}

void TestCluster::deliver(const std::function<bool(int from, int to, const Message&)>& drop) {
  for (int round = 0; round < 10'000; ++round) {
    bool any = false;
    for (int from = 1; from <= size(); ++from) {
      for (auto& [to_id, message] : take_outbox(from)) {
        int to = int(to_id.value);
        any = true;
        if (to < 1 || to > size() || !alive(to)) continue;
        if (isolated_.contains(from) || isolated_.contains(to)) continue;
        if (drop && drop(from, to, message)) continue;
        Status status = raft(to).handle(message);
        CAIRN_ASSERT(status.ok());
        if (node(to).auto_flush) flush(to);
      }
      if (alive(from) && node(from).auto_flush) flush(from);
    }
    if (!any) return;
  }
  CAIRN_ASSERT(false && "messages never stopped");
}

void TestCluster::advance_ms(int64_t ms) {
  for (int64_t elapsed = 0; elapsed < ms; elapsed += 10) {
    for (int id = 1; id <= size(); ++id) {
      if (!alive(id)) continue;
      node(id).clock.advance_ms(10);
      Status status = raft(id).tick();
      CAIRN_ASSERT(status.ok());
    }
    deliver();
  }
}

void TestCluster::restart_with_log(int id, const std::vector<std::pair<int64_t, int64_t>>& entries,
                                   Term term) {
  crash(id);
  TestNode& n = node(id);
  n.log = InMemoryLog();
  for (auto [entry_term, records] : entries) {
    Offset first = n.log.last_index() + 1;
    Status status = n.log.append({Entry{Term(entry_term), first, first + (records - 1), EntryType::data,
                                        "x"}});
    CAIRN_ASSERT(status.ok());
  }
  n.log.flush_to(n.log.last_index());
  Status status = n.durable.save_hard_state(HardState{term, std::nullopt, std::nullopt});
  CAIRN_ASSERT(status.ok());
  start(id);
}

void TestCluster::restart_damaged(int id, Offset from) {
  crash(id);
  TestNode& n = node(id);
  HardState state = n.durable.hard_state();
  state.lost_end = n.log.last_index() + 1;
  Status status = n.durable.save_hard_state(state);
  if (status.ok()) status = n.log.truncate_suffix(from);
  CAIRN_ASSERT(status.ok());
  start(id);
}

void TestCluster::campaign(int id, const std::function<bool(int from, int to, const Message&)>& drop) {
  TestNode& n = node(id);
  n.clock.advance_ms(2'000);  // past any election timeout
  Status status = n.raft->tick();
  CAIRN_ASSERT(status.ok());
  deliver(drop);
}

std::optional<int> TestCluster::leader() {
  std::optional<int> found;
  for (int id = 1; id <= size(); ++id) {
    if (!alive(id) || raft(id).role() != Role::leader) continue;
    if (!found || raft(id).term() > raft(*found).term()) found = id;
  }
  return found;
}

std::optional<int> TestCluster::wait_for_leader(int64_t limit_ms) {
  for (int64_t elapsed = 0; elapsed < limit_ms; elapsed += 10) {
    if (auto l = leader()) return l;
    advance_ms(10);
  }
  return leader();
}

}  // namespace cairn::raft::testing
