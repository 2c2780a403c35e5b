#pragma once

#include <CLI/CLI.hpp>

namespace cairn::tools {

// `cairn completion bash`: prints a bash completion script for every command
// and option of `app` (add it last). Install: cairn completion bash >
// /etc/bash_completion.d/cairn, or `source <(cairn completion bash)`.
void add_completion_command(CLI::App& app, int& exit_code);

}  // namespace cairn::tools
