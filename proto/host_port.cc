#include "proto/host_port.h"

#include <charconv>

namespace cairn {

constexpr int32_t kMaxPort = 65535;

std::string HostPort::to_string() const {
  bool ipv6 = host.find(':') != std::string::npos;
  return ipv6 ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
}

Result<HostPort> parse_host_port(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return error(ErrorCode::invalid_config, "has no port");
  HostPort out;
  out.host = std::string(text.substr(0, colon));
  if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);
  } else if (out.host.find(':') != std::string::npos) {
    return error(ErrorCode::invalid_config, "has an IPv6 host without brackets");
  }
  if (out.host.empty()) return error(ErrorCode::invalid_config, "has no host");
  std::string_view port = text.substr(colon + 1);
  if (port.empty()) return error(ErrorCode::invalid_config, "has no port");
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), out.port);
  if (ec != std::errc() || end != port.data() + port.size() || out.port < 0 || out.port > kMaxPort) {
    return error(ErrorCode::invalid_config, "has port '{}', not a number in 0..{}", port, kMaxPort);
  }
  return out;
}

}  // namespace cairn
