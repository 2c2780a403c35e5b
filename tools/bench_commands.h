#pragma once

#include <CLI/CLI.hpp>

namespace cairn::tools {

// `cairn bench produce|consume|e2e`: throughput and latency against a
// running cluster, like Kafka's producer and consumer perf tools.
void add_bench_commands(CLI::App& app, int& exit_code);

}  // namespace cairn::tools
