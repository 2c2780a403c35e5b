#include "broker/raft/sim/simulator.h"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <map>
#include <random>

#include <fmt/format.h>

#include "broker/raft/consensus.h"
#include "broker/raft/in_memory_log.h"
#include "broker/raft/sim/checker.h"

namespace cairn::raft::sim {

void SimStats::add(const SimStats& o) {
  simulated_ms += o.simulated_ms;
  events += o.events;
  elections += o.elections;
  commits += o.commits;
  crashes += o.crashes;
  partitions += o.partitions;
  messages_dropped += o.messages_dropped;
  messages_duplicated += o.messages_duplicated;
  clock_changes += o.clock_changes;
  membership_changes += o.membership_changes;
  transfers += o.transfers;
  trims += o.trims;
  failover_ms.insert(failover_ms.end(), o.failover_ms.begin(), o.failover_ms.end());
}

namespace {

// Portable and reproducible: no std distributions, whose output differs
// between standard libraries.
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  uint64_t next() { return engine_(); }
  // Uniform in [lo, hi].
  int64_t between(int64_t lo, int64_t hi) { return lo + int64_t(engine_() % uint64_t(hi - lo + 1)); }
  bool chance(double p) { return double(engine_() >> 11) * 0x1.0p-53 < p; }

 private:
  std::mt19937_64 engine_;
};

// A node's clock: simulated time scaled by a drift rate that can change.
class SimClock final : public Clock {
 public:
  explicit SimClock(const int64_t& sim_us) : sim_us_(sim_us) {}
  int64_t now_ms() const override { return int64_t(exact_ms()); }
  void set_rate(double rate) {
    anchor_ms_ = exact_ms();
    anchor_us_ = sim_us_;
    rate_ = rate;
  }
  double rate() const { return rate_; }

 private:
  double exact_ms() const { return anchor_ms_ + double(sim_us_ - anchor_us_) * rate_ / 1000.0; }
  const int64_t& sim_us_;
  double anchor_ms_ = 1'000'000;
  int64_t anchor_us_ = 0;
  double rate_ = 1.0;
};

struct Event {
  enum class Kind : uint8_t { tick, deliver, flush, chaos };
  int64_t time_us;
  uint64_t sequence;
  Kind kind;
  int node;
  int incarnation;
  Message message;
  bool operator>(const Event& o) const {
    return time_us != o.time_us ? time_us > o.time_us : sequence > o.sequence;
  }
};

class Simulation;

class SimTransport final : public Transport {
 public:
  SimTransport(Simulation& sim, int from) : sim_(sim), from_(from) {}
  void send(NodeId to, Message message) override;

 private:
  Simulation& sim_;
  int from_;
};

// One simulated broker: its disk (log, durable state) survives crashes; its
// Consensus object does not.
struct Node {
  Node(Simulation& sim, int index, const int64_t& sim_us)
      : index(index), id(index + 1), clock(sim_us), transport(sim, index) {}
  int index;
  NodeId id;
  InMemoryLog log;
  InMemoryDurableState durable;
  SimClock clock;
  SimTransport transport;
  std::unique_ptr<Consensus> consensus;
  int incarnation = 0;
  bool flush_scheduled = false;
  Role last_role = Role::follower;
  std::map<int64_t, Entry> pending;  // proposals by last index, awaiting apply
};

constexpr int64_t kTickIntervalMs = 10;

class Simulation {
 public:
  explicit Simulation(const SimOptions& options);
  SimResult run();
  void send(int from, int to, Message message);

 private:
  bool alive(int i) const { return nodes_[i]->consensus != nullptr; }
  void start_node(int i);
  void crash_node(int i);
  void schedule(Event event);
  void schedule_tick(int i);
  void process(Event& event);
  void after_event(int i);
  void maybe_schedule_flush(int i);
  void on_apply(int i, const Entry& entry);
  bool run_until(int64_t until_us, const std::function<bool()>& done);
  std::optional<int> leader() const;
  void trace(const std::function<std::string()>& line);
  void check(const Status& status, int i);

  // Chaos (one action per chaos event) and the two phases.
  void chaos_step();
  void propose_on_leader(const std::string& payload);
  void change_membership(int leader);
  void partition();
  void heal();
  void run_liveness_phase();
  void run_failover_trial();

  SimOptions options_;
  Rng rng_;
  int64_t now_us_ = 0;
  uint64_t sequence_ = 0;
  std::vector<Event> queue_;  // a min-heap on (time, sequence)
  std::vector<std::unique_ptr<Node>> nodes_;
  std::unique_ptr<SafetyChecker> checker_;
  std::vector<std::vector<bool>> blocked_;  // blocked_[from][to]
  double loss_rate_ = 0;
  double duplicate_rate_ = 0;
  int chaos_steps_left_ = 0;
  int64_t proposals_ = 0;
  SimResult result_;
};

void SimTransport::send(NodeId to, Message message) { sim_.send(from_, int(to.value) - 1, std::move(message)); }

Simulation::Simulation(const SimOptions& options) : options_(options), rng_(options.seed) {
  for (int i = 0; i < options_.node_count; ++i) {
    nodes_.push_back(std::make_unique<Node>(*this, i, now_us_));
  }
  std::vector<const InMemoryLog*> logs;
  for (auto& node : nodes_) logs.push_back(&node->log);
  checker_ = std::make_unique<SafetyChecker>(logs);
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
  node.consensus = std::make_unique<Consensus>(raft, node.log, node.durable, node.transport, node.clock,
                                               [this, i](const Entry& entry) { on_apply(i, entry); });
  check(node.consensus->start(), i);
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

void Simulation::send(int from, int to, Message message) {
  if (to < 0 || to >= options_.node_count) return;
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
    schedule({now_us_ + delay_us, 0, Event::Kind::deliver, to, 0, message});
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

void Simulation::process(Event& event) {
  Node& node = *nodes_[event.node];
  switch (event.kind) {
    case Event::Kind::chaos:
      chaos_step();
      return;
    case Event::Kind::tick:
      if (!alive(event.node) || event.incarnation != node.incarnation) return;
      check(node.consensus->tick(), event.node);
      schedule_tick(event.node);
      break;
    case Event::Kind::deliver:
      if (!alive(event.node)) return;
      trace([&] { return fmt::format("n{} <- {}", node.id, describe(event.message)); });
      check(node.consensus->handle(event.message), event.node);
      break;
    case Event::Kind::flush: {
      if (!alive(event.node) || event.incarnation != node.incarnation) return;
      node.flush_scheduled = false;
      if (node.log.flush_to(node.log.last_index())) {
        trace([&] { return fmt::format("n{} flushed to {}", node.id, node.log.flushed_index()); });
        check(node.consensus->on_log_flushed(), event.node);
      }
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

void Simulation::chaos_step() {
  --chaos_steps_left_;
  if (chaos_steps_left_ > 0) {
    schedule({now_us_ + rng_.between(1'000, 40'000), 0, Event::Kind::chaos, 0, 0, {}});
  }
  int n = options_.node_count;
  int i = int(rng_.between(0, n - 1));
  int64_t roll = rng_.between(0, 99);
  if (roll < 45) {
    propose_on_leader(fmt::format("s{}-p{}", options_.seed, proposals_++));
  } else if (roll < 50) {
    if (alive(i)) crash_node(i);
  } else if (roll < 53) {
    if (auto l = leader()) crash_node(*l);
  } else if (roll < 63) {
    if (!alive(i)) start_node(i);
  } else if (roll < 69) {
    partition();
  } else if (roll < 76) {
    heal();
  } else if (roll < 80) {
    static constexpr double kLoss[] = {0, 0, 0.02, 0.1, 0.3};
    static constexpr double kDuplicate[] = {0, 0, 0.02, 0.1};
    loss_rate_ = kLoss[rng_.between(0, 4)];
    duplicate_rate_ = kDuplicate[rng_.between(0, 3)];
    trace([&] { return fmt::format("network: loss {} duplicate {}", loss_rate_, duplicate_rate_); });
  } else if (roll < 84) {
    nodes_[i]->clock.set_rate(0.9 + double(rng_.between(0, 200)) / 1000.0);
    ++result_.stats.clock_changes;
    trace([&] { return fmt::format("n{} clock rate {}", i + 1, nodes_[i]->clock.rate()); });
  } else if (roll < 90) {
    if (auto l = leader()) change_membership(*l);
  } else if (roll < 94) {
    if (auto l = leader()) {
      NodeId target(rng_.between(1, n));
      Status status = nodes_[*l]->consensus->transfer_leadership(target);
      ++result_.stats.transfers;
      trace([&] { return fmt::format("n{} transfer to n{}: {}", *l + 1, target, status.to_string()); });
      after_event(*l);
    }
  } else if (alive(i)) {
    Node& node = *nodes_[i];
    Offset limit = std::min(node.consensus->applied_index(), node.log.flushed_index()) - rng_.between(0, 8);
    if (limit >= node.log.first_index()) {
      node.log.trim_prefix(limit);
      ++result_.stats.trims;
      trace([&] { return fmt::format("n{} retention trims to {}: log [{}..{}]", node.id, limit,
                                     node.log.first_index(), node.log.last_index()); });
    }
  }
}

void Simulation::change_membership(int l) {
  Consensus& leader = *nodes_[l]->consensus;
  Membership members = leader.membership();
  std::vector<NodeId> outsiders;
  for (int j = 0; j < options_.node_count; ++j) {
    if (!members.contains(NodeId(j + 1))) outsiders.push_back(NodeId(j + 1));
  }
  Status status;
  std::string what;
  if (!members.learners.empty()) {
    NodeId id = members.learners[rng_.between(0, int64_t(members.learners.size()) - 1)];
    what = fmt::format("promote n{}", id);
    status = leader.promote_learner(id);
  } else if (!outsiders.empty() && (members.voters.size() <= 2 || rng_.chance(0.6))) {
    NodeId id = outsiders[rng_.between(0, int64_t(outsiders.size()) - 1)];
    what = fmt::format("add learner n{}", id);
    status = leader.add_learner(id);
  } else if (members.voters.size() > 2) {
    NodeId id = members.voters[rng_.between(0, int64_t(members.voters.size()) - 1)];
    what = fmt::format("remove n{}", id);
    status = leader.remove_member(id);
  } else {
    return;
  }
  if (status.ok()) ++result_.stats.membership_changes;
  trace([&] { return fmt::format("n{} membership {}: {}", l + 1, what, status.to_string()); });
  after_event(l);
}

void Simulation::partition() {
  int n = options_.node_count;
  ++result_.stats.partitions;
  if (rng_.chance(0.5)) {
    // Symmetric: a random side cut off from the rest.
    std::vector<bool> side(n);
    for (int j = 0; j < n; ++j) side[j] = rng_.chance(0.5);
    for (int a = 0; a < n; ++a) {
      for (int b = 0; b < n; ++b) blocked_[a][b] = side[a] != side[b];
    }
    trace([&] {
      std::string text = "partition: side A =";
      for (int j = 0; j < n; ++j) if (side[j]) text += fmt::format(" n{}", j + 1);
      return text;
    });
  } else {
    int a = int(rng_.between(0, n - 1));
    int b = int(rng_.between(0, n - 1));
    if (a == b) return;
    blocked_[a][b] = true;
    trace([&] { return fmt::format("partition: n{} -> n{} blocked (one-way)", a + 1, b + 1); });
  }
}

void Simulation::heal() {
  for (auto& row : blocked_) std::fill(row.begin(), row.end(), false);
  trace([] { return std::string("network healed"); });
}

// Heals everything, restarts every node, and requires a committed proposal
// within the liveness bound.
void Simulation::run_liveness_phase() {
  heal();
  loss_rate_ = 0;
  duplicate_rate_ = 0;
  for (int i = 0; i < options_.node_count; ++i) {
    if (!alive(i)) start_node(i);
  }
  int64_t start_commits = result_.stats.commits;
  int64_t deadline_us = now_us_ + options_.liveness_bound_ms * 1000;
  int attempt = 0;
  while (now_us_ < deadline_us && result_.ok && !checker_->violation()) {
    propose_on_leader(fmt::format("s{}-live{}", options_.seed, attempt++));
    if (run_until(std::min(deadline_us, now_us_ + 200'000),
                  [&] { return result_.stats.commits > start_commits; })) {
      return;
    }
  }
  if (result_.ok && !checker_->violation()) {
    auto l = leader();
    result_.ok = false;
    result_.violation = fmt::format("liveness: no proposal committed within {} ms after healing (leader: {})",
                                    options_.liveness_bound_ms, l ? fmt::format("n{}", *l + 1) : "none");
  }
}

// Waits for a leader, lets it settle, crashes it and measures the time
// until another node leads, then restarts the crashed node.
void Simulation::run_failover_trial() {
  if (!run_until(now_us_ + 30'000'000, [&] { return leader().has_value(); })) return;
  run_until(now_us_ + rng_.between(200'000, 1'000'000), nullptr);
  auto old = leader();
  if (!old) return;
  Term old_term = nodes_[*old]->consensus->term();
  crash_node(*old);
  int64_t crashed_at_us = now_us_;
  auto elected = [&] {
    auto l = leader();
    return l && nodes_[*l]->consensus->term() > old_term;
  };
  if (run_until(now_us_ + 30'000'000, elected)) {
    result_.stats.failover_ms.push_back((now_us_ - crashed_at_us) / 1000);
  }
  start_node(*old);
}

SimResult Simulation::run() {
  for (int i = 0; i < options_.node_count; ++i) {
    nodes_[i]->clock.set_rate(0.95 + double(rng_.between(0, 100)) / 1000.0);
    start_node(i);
  }
  if (options_.scenario == Scenario::failover) {
    for (int trial = 0; trial < options_.steps && result_.ok && !checker_->violation(); ++trial) {
      run_failover_trial();
    }
  } else {
    chaos_steps_left_ = options_.steps;
    schedule({now_us_ + 1'000, 0, Event::Kind::chaos, 0, 0, {}});
    run_until(INT64_MAX, [&] { return chaos_steps_left_ <= 0; });
    run_liveness_phase();
  }
  checker_->check_acked_durability();
  if (auto l = leader()) checker_->check_log_has_acked(*l, Term::max(), "final leader");
  if (checker_->violation()) {
    result_.ok = false;
    result_.violation = *checker_->violation();
  }
  result_.stats.simulated_ms = now_us_ / 1000;
  return std::move(result_);
}

}  // namespace

SimResult run_simulation(const SimOptions& options) { return Simulation(options).run(); }

}  // namespace cairn::raft::sim
