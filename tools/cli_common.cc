#include "tools/cli_common.h"

#include <cstdlib>

#include <fmt/format.h>

namespace cairn::tools {

constexpr const char* kDefaultBrokers = "127.0.0.1:7070";

void BrokerFlag::add_to(CLI::App& command) {
  command.add_option("--brokers", brokers,
                     "host:port[,host:port...] of brokers; default $CAIRN_BROKERS, else 127.0.0.1:7070");
}

ClientOptions BrokerFlag::client_options() const {
  std::string list = brokers;
  if (list.empty()) {
    const char* env = std::getenv("CAIRN_BROKERS");
    list = env && *env ? env : kDefaultBrokers;
  }
  ClientOptions options;
  options.bootstrap_brokers = parse_broker_list(list);
  return options;
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
