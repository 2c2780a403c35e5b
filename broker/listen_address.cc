#include "broker/listen_address.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace cairn::broker {
namespace {

Status bad_address(const std::string& text, std::string_view why) {
  return error(ErrorCode::invalid_config,
               "--listen '{}' {}; give host:port, e.g. 127.0.0.1:7070 (port 0: any free port)", text,
               why);
}

std::string remedy_for(int bind_errno, std::string_view flag) {
  switch (bind_errno) {
    case EADDRINUSE:
      return fmt::format("another program (another cairnd?) uses that port: stop it or pass another {} port", flag);
    case EADDRNOTAVAIL: return fmt::format("that host is not an address of this machine: fix {}", flag);
    case EACCES: return fmt::format("ports below 1024 need privileges: pass a higher {} port", flag);
    default: return fmt::format("fix {}", flag);
  }
}

}  // namespace

Result<ListenAddress> parse_listen_address(const std::string& text) {
  auto parsed = parse_host_port(text);
  if (!parsed.ok()) return bad_address(text, parsed.status().message());
  return parsed;
}

Status check_can_listen(const ListenAddress& address, std::string_view flag) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  std::string port = std::to_string(address.port);
  if (int rc = getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return error(ErrorCode::invalid_config,
                 "cannot listen on {}: cannot resolve host '{}' ({}); fix {}",
                 address.to_string(), address.host, gai_strerror(rc), flag);
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owned(found, freeaddrinfo);
  int bind_errno = 0;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      bind_errno = errno;
      continue;
    }
    int one = 1;  // as gRPC does; Server turns its SO_REUSEPORT off
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    bool bound = ::bind(fd, a->ai_addr, a->ai_addrlen) == 0;
    if (!bound) bind_errno = errno;
    ::close(fd);
    if (bound) return {};
  }
  return error(ErrorCode::io_error, "cannot listen on {}: {}; {}", address.to_string(),
               std::strerror(bind_errno), remedy_for(bind_errno, flag));
}

}  // namespace cairn::broker
