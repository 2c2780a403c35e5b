#include "tools/cli_common.h"

#include <csignal>
#include <ctime>

#include <algorithm>
#include <cstdlib>
#include <string_view>

#include <fmt/format.h>

namespace cairn::tools {

namespace {

// Set by the first Ctrl-C or SIGTERM: the command's loop ends, and it
// finishes cleanly (a consumer commits what was printed and leaves its
// group at once, not after the session timeout). Another signal two seconds
// or so later ends the process as usual; sooner, it is the same one again
// (`timeout` and some shells send it to the process and to its group).
volatile std::sig_atomic_t stop_signalled = 0;
timespec first_signal_at{};

void request_stop(int signal) {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);  // async-signal-safe
  if (!stop_signalled) {
    first_signal_at = now;
    stop_signalled = 1;
  } else if (now.tv_sec - first_signal_at.tv_sec >= 2) {
    std::signal(signal, SIG_DFL);
    std::raise(signal);
  }
}

}  // namespace

void stop_on_signals() {
  std::signal(SIGINT, request_stop);
  std::signal(SIGTERM, request_stop);
}

bool stop_requested() { return stop_signalled != 0; }

constexpr const char* kDefaultBrokers = "127.0.0.1:7070";
constexpr const char* kBrokersFlag = "-b,--brokers";
constexpr const char* kBrokersHelp =
    "host:port[,host:port...] of brokers (any live one will do); default $CAIRN_BROKERS, else 127.0.0.1:7070";

namespace {

// CLI11 checks the list (given, or from the environment) before any command runs.
std::string check_broker_list(const std::string& list) {
  auto parsed = parse_broker_list(list);
  return parsed.ok() ? std::string() : parsed.status().message();
}

// The deepest command the parse went into: where the arguments went wrong.
const CLI::App* innermost_command(const CLI::App* app) {
  for (const CLI::App* sub : app->get_subcommands()) return innermost_command(sub);
  return app;
}

// "unknown command 'ls'" and the commands there are, instead of CLI11's
// "The following arguments were not expected".
std::string explain_failure(const CLI::App* app, const CLI::Error& e) {
  const CLI::App* command = innermost_command(app);
  auto subcommands = command->get_subcommands([](const CLI::App* sub) { return !sub->get_name().empty(); });
  std::string path = command->get_parent() ? command->get_name() + " " : "";
  for (const CLI::App* up = command->get_parent(); up && up->get_parent(); up = up->get_parent()) {
    path = up->get_name() + " " + path;
  }
  std::string message = e.what();
  // A word the command did not take, where a subcommand was expected.
  auto left = app->remaining(/*recurse=*/true);
  auto word = std::find_if(left.begin(), left.end(), [](const std::string& arg) { return !arg.starts_with("-"); });
  if (!subcommands.empty() && word != left.end()) {
    std::string names;
    for (const CLI::App* sub : subcommands) names += (names.empty() ? "" : ", ") + sub->get_name();
    std::string_view name = path.empty() ? "cairn" : std::string_view(path).substr(0, path.size() - 1);
    message = fmt::format("unknown command '{}'; the commands of `{}{}` are: {}", *word,
                          path.empty() ? "" : "cairn ", name, names);
  }
  return fmt::format("error: {}\nRun `cairn {}--help` for more.\n", message, path);
}

}  // namespace

void add_global_options(CLI::App& app) {
  // Options of `cairn` itself are taken after a command too.
  app.fallthrough();
  // $CAIRN_BROKERS is read (and checked) only by commands that use brokers:
  // a bad one must not break --help, --version or the offline commands.
  app.add_option(kBrokersFlag, kBrokersHelp)
      ->check(CLI::Validator(check_broker_list, "HOST:PORT[,...]", "broker list"));
  app.set_version_flag("--version", fmt::format("cairn {}", CAIRN_VERSION));
  app.failure_message(explain_failure);
}

void BrokerFlag::add_to(CLI::App& command) {
  command_ = &command;
  command.add_option(kBrokersFlag, brokers, kBrokersHelp)
      ->check(CLI::Validator(check_broker_list, "HOST:PORT[,...]", "broker list"));
}

ClientOptions BrokerFlag::client_options() const {
  std::string list = brokers;
  const CLI::App* root = command_;
  while (root && root->get_parent()) root = root->get_parent();
  const CLI::Option* global = root ? root->get_option_no_throw("--brokers") : nullptr;
  if (list.empty() && global && !global->empty()) list = global->as<std::string>();
  const char* env = std::getenv("CAIRN_BROKERS");
  bool from_env = list.empty() && env && *env;
  if (from_env) list = env;
  if (list.empty()) list = kDefaultBrokers;
  auto parsed = parse_broker_list(list);
  if (!parsed.ok()) {
    // Flags were checked when parsed; only the environment gets here. The
    // command cannot run without brokers: stop as a parse error would.
    fmt::print(stderr, "error: $CAIRN_BROKERS: {}\n", parsed.status().message());
    std::exit(2);
  }
  ClientOptions options;
  options.bootstrap_brokers = std::move(*parsed);
  return options;
}

void add_format_option(CLI::App& command, std::string& format, const std::string& shape) {
  command.add_option("--format", format, "text (default) or json: " + shape)->check(CLI::IsMember({"text", "json"}));
}

Result<std::map<std::string, std::string>> parse_key_values(const std::vector<std::string>& pairs) {
  std::map<std::string, std::string> out;
  for (const auto& pair : pairs) {
    auto eq = pair.find('=');
    if (eq == std::string::npos || eq == 0) {
      return error(ErrorCode::invalid_config, "expected KEY=VALUE, got '{}'", pair);
    }
    out[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
  return out;
}

Acks parse_acks(const std::string& acks) {
  return acks == "0" ? Acks::none : acks == "1" ? Acks::leader : Acks::all;
}

int fail(const Status& status) {
  fmt::print(stderr, "error: {}\n", status.to_string());
  if (status.code() == ErrorCode::broker_unavailable || status.code() == ErrorCode::request_timed_out) {
    fmt::print(stderr, "hint: is a broker running at the address given by --brokers / $CAIRN_BROKERS?\n");
  }
  return 1;
}

}  // namespace cairn::tools
