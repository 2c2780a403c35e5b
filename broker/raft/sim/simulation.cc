#include "broker/raft/sim/simulation.h"

#include <algorithm>
#include <cstdio>
#include <tuple>

#include <fmt/format.h>

namespace cairn::raft::sim {

void SimTransport::send(NodeId to, Message message) { sim_.send(from_, int(to.value) - 1, std::move(message)); }

Simulation::Simulation(const SimOptions& options) : options_(options), rng_(options.seed) {
  for (int i = 0; i < options_.node_count; ++i) {
    nodes_.push_back(std::make_unique<Node>(*this, i, now_us_, options_.ack_before_flush));
  }
  std::vector<const InMemoryLog*> logs;
  for (auto& node : nodes_) logs.push_back(&node->log);
  checker_ = std::make_unique<SafetyChecker>(logs, !options_.ack_before_flush);
  for (int i = 0; i < options_.node_count; ++i) {
    InMemoryLog& log = nodes_[i]->log;
    log.set_observer({
        [this, i, &log](const Entry& entry) {
          checker_->on_append(i, entry, *log.entry_bounds(entry.first - 1));
        },
        [this, i](Offset from) { checker_->on_truncate(i, from); },
        [this, i](Offset base) { checker_->on_reset(i, base); },
    });
  }
  blocked_.assign(options_.node_count, std::vector<bool>(options_.node_count, false));
}

void Simulation::trace(const std::function<std::string()>& line) {
  if (!options_.record_history) return;
  std::string text = fmt::format("{:>10.3f}ms {}", double(now_us_) / 1000.0, line());
  if (options_.print_trace) std::printf("%s\n", text.c_str());
  result_.history.push_back(std::move(text));
}

void Simulation::check(const Status& status, int i) {
  if (!status.ok()) {
    result_.ok = false;
    if (result_.violation.empty()) {
      result_.violation = fmt::format("node {} failed: {}", nodes_[i]->id, status.to_string());
    }
  }
}

void Simulation::schedule(Event event) {
  event.sequence = sequence_++;
  queue_.push_back(std::move(event));
  std::push_heap(queue_.begin(), queue_.end(), std::greater<>());
}

void Simulation::schedule_tick(int i) {
  Node& node = *nodes_[i];
  // A fast clock ticks more often in simulated time.
  auto delay_us = int64_t(double(kTickIntervalMs * 1000) / node.clock.rate());
  schedule({now_us_ + delay_us, 0, Event::Kind::tick, i, node.incarnation, {}});
}

void Simulation::start_node(int i) {
  Node& node = *nodes_[i];
  RaftOptions raft;
  raft.self = node.id;
  for (int j = 0; j < options_.node_count; ++j) raft.initial_voters.push_back(NodeId(j + 1));
  raft.random_seed = options_.seed * 1'000'003 + uint64_t(i) * 7919 + uint64_t(node.incarnation);
  raft.known_committed = node.committed_checkpoint;
  node.consensus = std::make_unique<Consensus>(raft, node.consensus_log, node.durable, node.transport, node.clock,
                                               [this, i](const Entry& entry) { on_apply(i, entry); });
  check(node.consensus->start(), i);
  checker_->check_known_committed(i, node.consensus->commit_index());
  node.last_role = Role::follower;
  trace([&] { return fmt::format("n{} starts: term {} log [{}..{}] flushed {} members {}", node.id,
                                 node.consensus->term(), node.log.first_index(), node.log.last_index(),
                                 node.log.flushed_index(), node.consensus->membership()); });
  schedule_tick(i);
  maybe_schedule_flush(i);
}

void Simulation::crash_node(int i) {
  Node& node = *nodes_[i];
  node.consensus.reset();
  node.log.crash();
  node.pending.clear();
  node.flush_scheduled = false;
  ++node.incarnation;
  ++result_.stats.crashes;
  trace([&] { return fmt::format("n{} CRASHES: log now [{}..{}]", node.id, node.log.first_index(),
                                 node.log.last_index()); });
  checker_->check_acked_durability();
}

bool Simulation::any_repairing() const {
  for (int i = 0; i < options_.node_count; ++i) {
    if (repairing(i)) return true;
  }
  return false;
}

// A disk that loses what it synced: the node crashes and restarts with its
// log cut at an entry boundary among its durable entries, repairing
// (HardState::lost_end), as a broker whose recovery found the loss.
// Within the fault model a group can recover from: one node at a time
// (when every copy of a committed entry is gone, no election is safe), and
// while every membership any node knows, committed or not, has every node
// as a voter (change_membership waits while a node repairs). Otherwise the
// damage can take the only voter that could win: with two voters the other
// cannot win alone, nor get the damaged one's vote while what it lost may
// be ahead of it; and a leader that removed itself holds entries no voter
// has. The group then waits, as it must: it cannot tell whether what was
// lost was committed.
void Simulation::damage_node(int i) {
  for (const auto& n : nodes_) {
    for (const auto& m : n->durable.memberships()) {
      if (m.membership.voters.size() < size_t(options_.node_count)) return;
    }
  }
  if (any_repairing()) return;
  Node& node = *nodes_[i];
  if (alive(i)) crash_node(i);
  if (node.log.last_index() < node.log.first_index()) return;
  Offset from = node.log.entry_bounds(Offset(rng_.between(node.log.first_index().value,
                                                          node.log.last_index().value)))->first;
  HardState state = node.durable.hard_state();
  state.lost_end = node.log.last_index() + 1;
  check(node.durable.save_hard_state(state), i);
  checker_->on_damage(i);
  check(node.log.truncate_suffix(from), i);
  ++result_.stats.damages;
  trace([&] { return fmt::format("n{} DISK DAMAGED: lost [{}..{}]", node.id, from, *state.lost_end - 1); });
  start_node(i);
}

void Simulation::send(int from, int to, Message message) {
  if (to < 0 || to >= options_.node_count) return;
  ++nodes_[from]->messages_sent;
  if (blocked_[from][to] || rng_.chance(loss_rate_)) {
    ++result_.stats.messages_dropped;
    trace([&] { return fmt::format("n{} -> n{} DROPPED {}", from + 1, to + 1, describe(message)); });
    return;
  }
  int copies = rng_.chance(duplicate_rate_) ? 2 : 1;
  result_.stats.messages_duplicated += copies - 1;
  for (int c = 0; c < copies; ++c) {
    int64_t delay_us = rng_.between(100, 3'000);
    if (rng_.chance(0.05)) delay_us += rng_.between(0, 50'000);  // reordering
    trace([&] { return fmt::format("n{} -> n{} {}{}", from + 1, to + 1, describe(message),
                                   c > 0 ? " (duplicate)" : ""); });
    schedule({now_us_ + delay_us, 0, Event::Kind::deliver, to, 0, std::make_unique<Message>(message)});
  }
}

void Simulation::maybe_schedule_flush(int i) {
  Node& node = *nodes_[i];
  if (node.flush_scheduled || node.log.flushed_index() >= node.log.last_index()) return;
  node.flush_scheduled = true;
  int64_t delay_us = rng_.chance(0.05) ? rng_.between(5'000, 40'000) : rng_.between(100, 2'000);
  schedule({now_us_ + delay_us, 0, Event::Kind::flush, i, node.incarnation, {}});
}

void Simulation::on_apply(int i, const Entry& entry) {
  Node& node = *nodes_[i];
  checker_->on_apply(i, entry);
  auto it = node.pending.find(entry.last.value);
  if (it == node.pending.end()) return;
  // Like a produce request, the client hears back from the leader it
  // proposed to, while that node still leads the entry's term; otherwise the
  // outcome is unknown to the client (and nothing is acknowledged).
  bool still_leading = node.consensus->role() == Role::leader && node.consensus->term() == entry.term;
  if (it->second == entry && still_leading) {
    const Membership& members = node.consensus->membership();
    std::vector<int> voters;
    for (NodeId id : members.voters) voters.push_back(int(id.value) - 1);
    checker_->on_acknowledged(entry, node.consensus->term(), voters, members.quorum_size());
    ++result_.stats.commits;
    trace([&] { return fmt::format("n{} ACKNOWLEDGES '{}' t{} [{}..{}]", node.id, entry.payload,
                                   entry.term, entry.first, entry.last); });
  }
  node.pending.erase(it);
}

namespace {

// What a tick can change that anyone could see.
auto tick_visible_state(const Node& node) {
  const Consensus& c = *node.consensus;
  return std::make_tuple(c.term(), c.role(), c.leader(), c.commit_index(), c.applied_index(),
                         c.transferring(), c.membership(), node.messages_sent, node.log.last_index());
}

}  // namespace

// Every tick runs, and one before next_tick_ms() must change nothing: a
// broker skips those (ReplicaManager), so a timer that next_tick_ms() does
// not report would never fire there.
void Simulation::tick(Node& node) {
  bool due = node.clock.now_ms() >= node.consensus->next_tick_ms();
  auto before = tick_visible_state(node);
  check(node.consensus->tick(), node.index);
  if (!due && tick_visible_state(node) != before && result_.violation.empty()) {
    result_.ok = false;
    result_.violation = fmt::format("n{} acted on a tick before its next_tick_ms() ({} < {})", node.id,
                                    node.clock.now_ms(), node.consensus->next_tick_ms());
  }
}

void Simulation::process(Event& event) {
  Node& node = *nodes_[event.node];
  switch (event.kind) {
    case Event::Kind::chaos:
      chaos_step();
      return;
    case Event::Kind::tick:
      if (!alive(event.node) || event.incarnation != node.incarnation) return;
      tick(node);
      schedule_tick(event.node);
      break;
    case Event::Kind::deliver:
      if (!alive(event.node)) return;
      trace([&] { return fmt::format("n{} <- {}", node.id, describe(*event.message)); });
      check(node.consensus->handle(*event.message), event.node);
      break;
    case Event::Kind::flush: {
      if (!alive(event.node) || event.incarnation != node.incarnation) return;
      node.flush_scheduled = false;
      if (node.log.flush_to(node.log.last_index())) {
        trace([&] { return fmt::format("n{} flushed to {}", node.id, node.log.flushed_index()); });
        check(node.consensus->on_log_flushed(), event.node);
      }
      // Saved with the index as the broker's log does (with each flush).
      node.committed_checkpoint = node.consensus->applied_index();
      break;
    }
  }
  after_event(event.node);
}

void Simulation::after_event(int i) {
  Node& node = *nodes_[i];
  if (!alive(i)) return;
  maybe_schedule_flush(i);
  Role role = node.consensus->role();
  if (role != node.last_role) {
    if (role == Role::leader) ++result_.stats.elections;
    trace([&] { return fmt::format("n{} becomes {} in term {}", node.id, role_name(role),
                                   node.consensus->term()); });
    node.last_role = role;
  }
  checker_->on_repairing(i, repairing(i));
  checker_->on_role(i, role, node.consensus->term());
}

bool Simulation::run_until(int64_t until_us, const std::function<bool()>& done) {
  while (!queue_.empty() && result_.ok && !checker_->violation()) {
    if (done && done()) return true;
    if (queue_.front().time_us > until_us) {
      now_us_ = until_us;
      return false;
    }
    std::pop_heap(queue_.begin(), queue_.end(), std::greater<>());
    Event event = std::move(queue_.back());
    queue_.pop_back();
    now_us_ = event.time_us;
    ++result_.stats.events;
    process(event);
  }
  return done && done();
}

std::optional<int> Simulation::leader() const {
  std::optional<int> found;
  for (int i = 0; i < options_.node_count; ++i) {
    if (!alive(i) || nodes_[i]->consensus->role() != Role::leader) continue;
    if (!found || nodes_[i]->consensus->term() > nodes_[*found]->consensus->term()) found = i;
  }
  return found;
}

void Simulation::propose_on_leader(const std::string& payload) {
  auto l = leader();
  if (!l) return;
  Node& node = *nodes_[*l];
  int64_t records = rng_.between(1, 4);
  auto last = node.consensus->propose(payload, records);
  trace([&] { return fmt::format("n{} propose '{}' x{}: {}", node.id, payload, records,
                                 last.ok() ? fmt::format("last index {}", *last) : last.status().to_string()); });
  if (!last.ok()) return;
  Entry entry{node.consensus->term(), *last - (records - 1), *last, EntryType::data, payload};
  node.pending.emplace(last->value, std::move(entry));
  after_event(*l);
}

}  // namespace cairn::raft::sim
