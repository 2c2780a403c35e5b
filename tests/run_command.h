#pragma once

#include <string>

namespace cairn::testing {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr, interleaved as the shell gives them
};

// Runs `command` through /bin/sh (append "2>&1" to capture stderr too).
CommandResult run_command(const std::string& command);

}  // namespace cairn::testing
