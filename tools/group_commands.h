#pragma once

#include <CLI/CLI.hpp>

namespace cairn::tools {

// `cairn group list|describe|delete|reset-offsets`.
void add_group_commands(CLI::App& app, int& exit_code);

}  // namespace cairn::tools
