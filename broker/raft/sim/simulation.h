#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker/raft/sim/checker.h"
#include "broker/raft/sim/sim_node.h"
#include "broker/raft/sim/simulator.h"

namespace cairn::raft::sim {

constexpr int64_t kTickIntervalMs = 10;

// One run of the simulator: the nodes, the network (an event queue with
// delays, loss, duplication and partitions), the chaos schedule and the
// checkers. Time is simulated in microseconds and moves only from event to
// event; every random choice comes from one seeded generator, so a run is a
// function of its options. Owns everything; single-threaded; memory grows
// with the run (bounded by steps).
//
// simulation.cc holds the machinery (events, nodes, network, checks);
// scenarios.cc the chaos actions and the phases of a run.
class Simulation {
 public:
  explicit Simulation(const SimOptions& options);
  SimResult run();
  void send(int from, int to, Message message);

 private:
  bool alive(int i) const { return nodes_[i]->consensus != nullptr; }
  void start_node(int i);
  void crash_node(int i);
  void damage_node(int i);
  bool repairing(int i) const { return nodes_[i]->durable.hard_state().lost_end.has_value(); }
  bool any_repairing() const;
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
  void tick(Node& node);

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

}  // namespace cairn::raft::sim
