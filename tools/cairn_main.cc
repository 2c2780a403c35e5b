// `cairn`: the command-line tool. Each command group lives in its own file.

#include <CLI/CLI.hpp>

#include "tools/log_commands.h"

int main(int argc, char** argv) {
  CLI::App app{"cairn: the command-line tool for Cairn, an append-only replicated event log"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every command");
  int exit_code = 0;
  cairn::tools::add_log_commands(app, exit_code);
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
