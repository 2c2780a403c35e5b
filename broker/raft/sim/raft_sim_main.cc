// raft-sim: runs the deterministic Raft simulator over a range of seeds.
//
//   raft-sim --seed S --count N [--nodes 3|5] [--steps K] [--trace]
//   raft-sim --failover --seed S --count N     (leader-crash timing)
//   raft-sim --ack-before-flush ...            (unsafe on purpose: shows the cost)
//
// Prints one summary line; on a violation prints the seed and the history
// that led to it (replayed with tracing) and exits 1.

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "broker/raft/sim/simulator.h"

namespace {

// A CAIRN_ASSERT aborts the process, which leaves no history to print. The
// handler replays the seed in a fresh process with --trace (execv is
// async-signal-safe), so the trace printed ends at the broken invariant.
char g_self_path[4096];
char g_seed_arg[32];
char g_nodes_arg[16];
char g_steps_arg[16];
bool g_replaying = false;
bool g_ack_before_flush = false;

void on_abort(int) {
  static const char kMessage[] = "raft-sim: invariant broken; replaying the seed with --trace\n";
  if (!g_replaying) {
    (void)!write(2, kMessage, sizeof kMessage - 1);
    char seed_flag[] = "--seed", count_flag[] = "--count", one[] = "1", nodes_flag[] = "--nodes",
         steps_flag[] = "--steps", trace_flag[] = "--trace", unsafe_flag[] = "--ack-before-flush";
    char* argv[] = {g_self_path, seed_flag, g_seed_arg, count_flag, one, nodes_flag, g_nodes_arg,
                    steps_flag, g_steps_arg, trace_flag,
                    g_ack_before_flush ? unsafe_flag : nullptr, nullptr};
    execv(g_self_path, argv);
  }
  std::signal(SIGABRT, SIG_DFL);
  std::raise(SIGABRT);
}

int64_t percentile(std::vector<int64_t> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t index = std::min(values.size() - 1, size_t(p * double(values.size())));
  return values[index];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Deterministic simulation of Cairn's Raft consensus"};
  uint64_t seed = 1;
  int64_t count = 1;
  int nodes = 3;
  int steps = 400;
  bool trace = false;
  bool failover = false;
  app.add_option("--seed", seed, "first seed");
  app.add_option("--count", count, "number of seeds to run (seed .. seed+count-1)");
  app.add_option("--nodes", nodes, "nodes in the cluster")->check(CLI::Range(1, 9));
  app.add_option("--steps", steps, "chaos actions per seed (failover trials with --failover)");
  app.add_flag("--trace", trace, "print a readable event trace");
  app.add_flag("--failover", failover, "measure leaderless time after leader crashes");
  bool ack_before_flush = false;
  app.add_flag("--ack-before-flush", ack_before_flush,
               "unsafe: logs report entries durable before they are (expect violations)");
  CLI11_PARSE(app, argc, argv);

  ssize_t path_length = readlink("/proc/self/exe", g_self_path, sizeof g_self_path - 1);
  if (path_length > 0) g_self_path[path_length] = '\0';
  std::snprintf(g_nodes_arg, sizeof g_nodes_arg, "%d", nodes);
  std::snprintf(g_steps_arg, sizeof g_steps_arg, "%d", steps);
  g_replaying = trace || failover || path_length <= 0;
  g_ack_before_flush = ack_before_flush;
  std::signal(SIGABRT, on_abort);
  if (trace) std::setvbuf(stdout, nullptr, _IOLBF, 0);  // the trace must precede an abort message
  cairn::raft::sim::SimStats total;
  auto started = std::chrono::steady_clock::now();
  int64_t violations = 0;
  int64_t seeds_run = 0;
  for (int64_t k = 0; k < count; ++k) {
    ++seeds_run;
    cairn::raft::sim::SimOptions options;
    options.seed = seed + uint64_t(k);
    options.node_count = nodes;
    options.steps = steps;
    options.scenario = failover ? cairn::raft::sim::Scenario::failover : cairn::raft::sim::Scenario::chaos;
    options.ack_before_flush = ack_before_flush;
    options.record_history = trace;
    options.print_trace = trace;
    std::snprintf(g_seed_arg, sizeof g_seed_arg, "%llu", (unsigned long long)options.seed);
    auto result = cairn::raft::sim::run_simulation(options);
    total.add(result.stats);
    if (result.ok) continue;
    ++violations;
    if (!trace) {  // replay the same seed, recording its history
      options.record_history = true;
      result = cairn::raft::sim::run_simulation(options);
      size_t from = result.history.size() > 400 ? result.history.size() - 400 : 0;
      std::printf("history of seed %llu (last %zu events):\n", (unsigned long long)options.seed,
                  result.history.size() - from);
      for (size_t i = from; i < result.history.size(); ++i) std::printf("  %s\n", result.history[i].c_str());
    }
    std::printf("VIOLATION in seed %llu (--nodes %d --steps %d%s): %s\n", (unsigned long long)options.seed,
                nodes, steps, ack_before_flush ? " --ack-before-flush" : "", result.violation.c_str());
    break;
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  fmt::print(
      "raft-sim: {} seeds ({}..{}) nodes {}: {} elections, {} commits, {} faults injected ({} crashes, {} of them with disk damage, {} "
      "partitions, {} dropped, {} duplicated, {} clock changes), {} membership changes, {} transfers, "
      "{} trims, {:.1f} s simulated, {} violations, {:.2f} s\n",
      seeds_run, seed, seed + uint64_t(seeds_run) - 1, nodes, total.elections, total.commits, total.faults(), total.crashes,
      total.damages, total.partitions, total.messages_dropped, total.messages_duplicated, total.clock_changes,
      total.membership_changes, total.transfers, total.trims, double(total.simulated_ms) / 1000.0,
      violations, seconds);
  if (!total.recovery_ms.empty()) {
    fmt::print("after healing: a proposal committed within median {} ms, p99 {} ms, max {} ms\n",
               percentile(total.recovery_ms, 0.5), percentile(total.recovery_ms, 0.99),
               percentile(total.recovery_ms, 1.0));
  }
  if (failover) {
    fmt::print("failover: {} leader crashes, leaderless time median {} ms, p99 {} ms, max {} ms\n",
               total.failover_ms.size(), percentile(total.failover_ms, 0.5),
               percentile(total.failover_ms, 0.99), percentile(total.failover_ms, 1.0));
  }
  return violations == 0 ? 0 : 1;
}
