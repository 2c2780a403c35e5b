#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "proto/status.h"

namespace cairn {

// A network address: `host:port`, an IPv6 host in brackets ("[::1]:7070").
struct HostPort {
  std::string host;
  int32_t port = 0;

  std::string to_string() const;
};

// Parses host:port (port 0..65535). The error says only what is wrong ("has
// no port"), for the caller to put in context.
Result<HostPort> parse_host_port(std::string_view text);

}  // namespace cairn
