#pragma once

#include <string>
#include <string_view>

#include "proto/host_port.h"
#include "proto/status.h"

namespace cairn::broker {

// Where cairnd serves gRPC. Port 0 asks the kernel for a free port (the
// bound one is then written to --port-file).
using ListenAddress = HostPort;

// Parses --listen. Refuses what gRPC would otherwise reinterpret: a missing
// or empty port, one outside 0..65535, an empty host.
Result<ListenAddress> parse_listen_address(const std::string& text);

// Whether the address can be listened on, found by binding it the way gRPC
// does (SO_REUSEADDR, no SO_REUSEPORT); if not, why ("Address already in
// use", "cannot resolve host ...") and what to do about it. cairnd checks
// before it opens its data, so a taken port fails fast, and again when gRPC
// refuses the address, since gRPC does not say why. `flag` is the option
// that gave the address, for the advice.
Status check_can_listen(const ListenAddress& address, std::string_view flag = "--listen");

}  // namespace cairn::broker
