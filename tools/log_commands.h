#pragma once

#include <CLI/CLI.hpp>

namespace cairn::tools {

// `cairn log dump PATH` and `cairn log verify DATA_DIR`: offline tools that
// read segment files directly (no broker needed, nothing is written). The
// chosen command stores its exit status in `exit_code`, which must outlive
// parsing.
void add_log_commands(CLI::App& app, int& exit_code);

}  // namespace cairn::tools
