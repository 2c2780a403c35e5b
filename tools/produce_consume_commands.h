#pragma once

#include <CLI/CLI.hpp>

namespace cairn::tools {

// `cairn produce TOPIC` (lines of stdin) and `cairn consume TOPIC` (to stdout).
void add_produce_consume_commands(CLI::App& app, int& exit_code);

}  // namespace cairn::tools
