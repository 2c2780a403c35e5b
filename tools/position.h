#pragma once

#include <cstdint>
#include <string>

#include "proto/status.h"

namespace cairn::tools {

// A place in a partition as users write it, the same in `consume --from` and
// `group reset-offsets --to`: earliest (alias beginning), latest (alias
// end), an OFFSET, @UNIX_MS, or an ISO 8601 time with its zone
// (2026-11-29T06:00:00Z, 2026-11-29T07:00:00.250+01:00). A time means the
// first record at or after it.
struct Position {
  enum class Kind { earliest, latest, offset, time };
  Kind kind = Kind::latest;
  int64_t value = 0;  // the offset, or the time in Unix ms
};

inline constexpr const char* kPositionHelp =
    "earliest, latest, an OFFSET, @UNIX_MS or an ISO 8601 time with a zone (2026-11-29T06:00:00Z): the first "
    "record at or after that time";

// The error names `flag` and what it takes.
Result<Position> parse_position(const std::string& text, const std::string& flag);

// Unix ms as an ISO 8601 UTC time with milliseconds (2026-11-29T06:00:00.123Z),
// as --from and --to take it back.
std::string format_time(int64_t unix_ms);

}  // namespace cairn::tools
