#include <algorithm>

#include <fmt/format.h>

#include "broker/raft/sim/simulation.h"

// The chaos schedule and the phases of a run.

namespace cairn::raft::sim {

void SimStats::add(const SimStats& o) {
  simulated_ms += o.simulated_ms;
  events += o.events;
  elections += o.elections;
  commits += o.commits;
  crashes += o.crashes;
  damages += o.damages;
  partitions += o.partitions;
  messages_dropped += o.messages_dropped;
  messages_duplicated += o.messages_duplicated;
  clock_changes += o.clock_changes;
  membership_changes += o.membership_changes;
  transfers += o.transfers;
  trims += o.trims;
  failover_ms.insert(failover_ms.end(), o.failover_ms.begin(), o.failover_ms.end());
  recovery_ms.insert(recovery_ms.end(), o.recovery_ms.begin(), o.recovery_ms.end());
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
    if (rng_.chance(0.2)) {
      damage_node(i);
    } else if (alive(i)) {
      crash_node(i);
    }
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
    if (auto l = leader(); l && !any_repairing()) change_membership(*l);
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
  int64_t healed_at_us = now_us_;
  int64_t deadline_us = now_us_ + options_.liveness_bound_ms * 1000;
  int attempt = 0;
  while (now_us_ < deadline_us && result_.ok && !checker_->violation()) {
    propose_on_leader(fmt::format("s{}-live{}", options_.seed, attempt++));
    if (run_until(std::min(deadline_us, now_us_ + 200'000),
                  [&] { return result_.stats.commits > start_commits; })) {
      result_.stats.recovery_ms.push_back((now_us_ - healed_at_us) / 1000);
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

SimResult run_simulation(const SimOptions& options) { return Simulation(options).run(); }

}  // namespace cairn::raft::sim
