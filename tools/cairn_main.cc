// `cairn`: the command-line tool. Each command group lives in its own file.

#include <CLI/CLI.hpp>

#include "proto/heap_tuning.h"
#include "tools/bench_commands.h"
#include "tools/cli_common.h"
#include "tools/cluster_commands.h"
#include "tools/completion_command.h"
#include "tools/group_commands.h"
#include "tools/log_commands.h"
#include "tools/produce_consume_commands.h"
#include "tools/queue_commands.h"
#include "tools/topic_commands.h"

int main(int argc, char** argv) {
  cairn::keep_large_buffers_in_the_heap();
  CLI::App app{
      "cairn: the command-line tool for Cairn, an append-only replicated event log.\n"
      "Brokers come from -b/--brokers (before or after the command), else $CAIRN_BROKERS, else "
      "127.0.0.1:7070.\n"
      "Run `cairn COMMAND --help` for each command's options and an example."};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every command");
  cairn::tools::add_global_options(app);
  int exit_code = 0;
  cairn::tools::add_topic_commands(app, exit_code);
  cairn::tools::add_cluster_commands(app, exit_code);
  cairn::tools::add_produce_consume_commands(app, exit_code);
  cairn::tools::add_group_commands(app, exit_code);
  cairn::tools::add_queue_commands(app, exit_code);
  cairn::tools::add_dlq_commands(app, exit_code);
  cairn::tools::add_log_commands(app, exit_code);
  cairn::tools::add_bench_commands(app, exit_code);
  cairn::tools::add_completion_command(app, exit_code);  // last: it lists the others
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
