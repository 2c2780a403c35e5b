#pragma once

#include <CLI/CLI.hpp>

namespace cairn::tools {

void add_cluster_commands(CLI::App& app, int& exit_code);

}  // namespace cairn::tools
