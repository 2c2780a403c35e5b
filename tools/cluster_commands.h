#pragma once

#include <CLI/CLI.hpp>

namespace cairn::tools {

// `cairn cluster ...` (brokers, controller, replica moves, leaders) and
// `cairn health` (whether brokers serve).
void add_cluster_commands(CLI::App& app, int& exit_code);

}  // namespace cairn::tools
