#pragma once

#include <utility>

#include <fmt/format.h>

#include "cairn/status.h"

// Status and Result are public (cairn/status.h); what only Cairn's own code
// uses to build and pass them on is here, so the public headers need no fmt.
namespace cairn {

// Builds a failed Status with a formatted message.
template <typename... Args>
Status error(ErrorCode code, fmt::format_string<Args...> format, Args&&... args) {
  return Status(code, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace cairn

// Propagates a failed Status out of the enclosing function.
#define CAIRN_RETURN_IF_ERROR(expr)          \
  do {                                       \
    ::cairn::Status cairn_status_ = (expr);  \
    if (!cairn_status_.ok()) return cairn_status_; \
  } while (0)
