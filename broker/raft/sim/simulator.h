#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cairn::raft::sim {

// What the simulator throws at the cluster.
enum class Scenario : uint8_t {
  // Random proposals, message delay/loss/duplication/reordering, symmetric
  // and one-way partitions, crashes losing unsynced data, restarts, clock
  // drift, retention, membership changes and leadership transfers; then a
  // healed liveness phase.
  chaos,
  // A healthy network; the leader is crashed and restarted over and over
  // to measure how long the cluster goes without a leader.
  failover,
};

struct SimOptions {
  uint64_t seed = 1;
  int node_count = 3;         // 3 or 5 (1..9 work)
  int steps = 400;            // chaos actions (or failover trials) per seed
  Scenario scenario = Scenario::chaos;
  // Liveness bound: after healing, a leader must commit a new proposal
  // within this much simulated time. Default 10 s (10+ election timeouts).
  int64_t liveness_bound_ms = 10'000;
  // Unsafe on purpose: the log reports entries durable as soon as they are
  // appended (acknowledging before fsync) while crashes still lose the
  // unflushed tail. Exists to show what that costs; expect violations.
  bool ack_before_flush = false;
  bool record_history = false;  // keep a readable trace of every event
  bool print_trace = false;     // and print it as it happens
};

struct SimStats {
  int64_t simulated_ms = 0;
  int64_t events = 0;
  int64_t elections = 0;       // times a node became leader
  int64_t commits = 0;         // proposals acknowledged to the client
  int64_t crashes = 0;
  int64_t damages = 0;         // crashes whose disk lost durable entries
  int64_t partitions = 0;      // symmetric and one-way
  int64_t messages_dropped = 0;
  int64_t messages_duplicated = 0;
  int64_t clock_changes = 0;
  int64_t membership_changes = 0;
  int64_t transfers = 0;
  int64_t trims = 0;
  // Failover scenario: leaderless time after each leader crash.
  std::vector<int64_t> failover_ms;
  // Chaos scenario: time from healing to the first committed proposal.
  std::vector<int64_t> recovery_ms;

  int64_t faults() const {
    return crashes + partitions + messages_dropped + messages_duplicated + clock_changes;
  }
  void add(const SimStats& other);
};

struct SimResult {
  bool ok = true;
  std::string violation;         // empty when ok
  std::vector<std::string> history;  // with record_history: the events, in order
  SimStats stats;
};

// Runs one seed to completion, deterministically: the same options give the
// same run, event for event. Single-threaded; holds the whole cluster in
// memory (bounded by steps).
SimResult run_simulation(const SimOptions& options);

}  // namespace cairn::raft::sim
