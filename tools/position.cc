#include "tools/position.h"

#include <charconv>
#include <ctime>

#include <fmt/format.h>

namespace cairn::tools {
namespace {

Result<int64_t> parse_number(std::string_view text) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0) {
    return error(ErrorCode::invalid_request, "not a number");
  }
  return value;
}

// YYYY-MM-DDTHH:MM:SS[.fff](Z|±hh:mm) to Unix ms; a time without a zone is
// refused rather than read in whatever zone the machine is in.
Result<int64_t> parse_datetime(const std::string& text) {
  std::tm tm{};
  const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest) return error(ErrorCode::invalid_request, "not a time");
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  int64_t millis = 0;
  if (*rest == '.') {
    ++rest;
    if (!digit(*rest)) return error(ErrorCode::invalid_request, "no digits after '.'");
    int digits = 0;
    while (digit(*rest)) {
      if (digits++ < 3) millis = millis * 10 + (*rest - '0');
      ++rest;
    }
    while (digits++ < 3) millis *= 10;
  }
  int offset_minutes = 0;
  if (*rest == 'Z') {
    ++rest;
  } else if (*rest == '+' || *rest == '-') {
    // Exactly ±hh:mm.
    const char* z = rest + 1;
    if (!digit(z[0]) || !digit(z[1]) || z[2] != ':' || !digit(z[3]) || !digit(z[4])) {
      return error(ErrorCode::invalid_request, "bad zone: give +hh:mm or -hh:mm");
    }
    int h = (z[0] - '0') * 10 + (z[1] - '0');
    int m = (z[3] - '0') * 10 + (z[4] - '0');
    if (h > 23 || m > 59) return error(ErrorCode::invalid_request, "bad zone: give +hh:mm or -hh:mm");
    offset_minutes = (*rest == '-' ? -1 : 1) * (h * 60 + m);
    rest = z + 5;
  } else {
    return error(ErrorCode::invalid_request, "no zone: end it with Z for UTC, or +hh:mm");
  }
  if (*rest != '\0') return error(ErrorCode::invalid_request, "trailing '{}'", rest);
  std::tm given = tm;
  time_t seconds = timegm(&tm);  // normalises tm: a day that does not exist moves on
  if (tm.tm_mday != given.tm_mday || tm.tm_mon != given.tm_mon || tm.tm_hour != given.tm_hour) {
    return error(ErrorCode::invalid_request, "no such date");
  }
  return (static_cast<int64_t>(seconds) - offset_minutes * 60) * 1000 + millis;
}

}  // namespace

Result<Position> parse_position(const std::string& text, const std::string& flag) {
  using Kind = Position::Kind;
  if (text == "earliest" || text == "beginning") return Position{Kind::earliest, 0};
  if (text == "latest" || text == "end") return Position{Kind::latest, 0};
  auto bad = [&](std::string_view why) {
    return error(ErrorCode::invalid_request, "{} '{}' ({}): give {}", flag, text, why, kPositionHelp);
  };
  if (text.starts_with("@")) {
    auto ms = parse_number(std::string_view(text).substr(1));
    if (!ms.ok()) return bad("@ must be followed by Unix milliseconds");
    return Position{Kind::time, *ms};
  }
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    auto offset = parse_number(text);
    if (!offset.ok()) return bad("the offset is too large");
    return Position{Kind::offset, *offset};
  }
  auto ms = parse_datetime(text);
  if (!ms.ok()) return bad(ms.status().message());
  return Position{Kind::time, *ms};
}

std::string format_time(int64_t unix_ms) {
  std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[32];
  size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
  return std::string(text, n) + fmt::format(".{:03}Z", unix_ms % 1000);
}

}  // namespace cairn::tools
