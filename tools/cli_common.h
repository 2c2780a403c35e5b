#pragma once

#include <map>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cairn/client_options.h"
#include "cairn/producer.h"
#include "proto/status.h"

namespace cairn::tools {

// Registers what every invocation of `cairn` takes, before or after the
// command: -b/--brokers (default $CAIRN_BROKERS, else 127.0.0.1:7070) and
// --version; an unknown command is named, with the commands there are.
void add_global_options(CLI::App& app);

// The broker list of a command: its own -b/--brokers, else the one given
// before the command, else $CAIRN_BROKERS, else the local default.
// Registered on every command that talks to a broker.
struct BrokerFlag {
  std::string brokers;
  void add_to(CLI::App& command);
  ClientOptions client_options() const;

 private:
  const CLI::App* command_ = nullptr;
};

// --format text|json on `command`: text (default) for people, json (one
// object, or one per line for streams: `shape` says which) for scripts.
void add_format_option(CLI::App& command, std::string& format, const std::string& shape);

// Parses repeated KEY=VALUE arguments (--config retention.ms=1000).
Result<std::map<std::string, std::string>> parse_key_values(const std::vector<std::string>& pairs);

// "0", "1" or "all" (validated by the flag) as producer acks.
Acks parse_acks(const std::string& acks);

// Ctrl-C and SIGTERM ask a long command (a consume) to stop cleanly:
// stop_requested() turns true; a second signal, two seconds or more later,
// ends the process.
void stop_on_signals();
bool stop_requested();

// Prints "error: ..." to stderr and returns the exit code for it.
int fail(const Status& status);

}  // namespace cairn::tools
