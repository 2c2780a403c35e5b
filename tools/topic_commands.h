#pragma once

#include <CLI/CLI.hpp>

namespace cairn::tools {

// `cairn topic create|list|describe|alter|delete`.
void add_topic_commands(CLI::App& app, int& exit_code);

}  // namespace cairn::tools
