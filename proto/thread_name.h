#pragma once

#include <string_view>

namespace cairn {

// Names the calling thread as `top -H`, `ps -L`, perf and gdb show it (at
// most 15 characters are kept): an operator can tell cairnd's flusher
// from its I/O threads, and a profile says whose time it is.
void name_this_thread(std::string_view name);

}  // namespace cairn
