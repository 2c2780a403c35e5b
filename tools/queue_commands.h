#pragma once

#include <CLI/CLI.hpp>

namespace cairn::tools {

// `cairn queue consume|describe|list|reset`: share groups (queues).
void add_queue_commands(CLI::App& app, int& exit_code);
// `cairn dlq list|inspect|redrive`: dead letters and their way back.
void add_dlq_commands(CLI::App& app, int& exit_code);

}  // namespace cairn::tools
