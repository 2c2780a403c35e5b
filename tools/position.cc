#include "tools/position.h"

#include <charconv>
#include <cstdio>
#include <ctime>

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
  int64_t millis = 0;
  if (*rest == '.') {
    ++rest;
    int digits = 0;
    while (*rest >= '0' && *rest <= '9') {
      if (digits++ < 3) millis = millis * 10 + (*rest - '0');
      ++rest;
    }
    while (digits++ < 3) millis *= 10;
  }
  int offset_minutes = 0;
  if (*rest == 'Z') {
    ++rest;
  } else if (*rest == '+' || *rest == '-') {
    int h = 0, m = 0, used = 0;
    if (std::sscanf(rest + 1, "%2d:%2d%n", &h, &m, &used) != 2 || h > 23 || m > 59) {
      return error(ErrorCode::invalid_request, "bad zone");
    }
    offset_minutes = (*rest == '-' ? -1 : 1) * (h * 60 + m);
    rest += 1 + used;
  } else {
    return error(ErrorCode::invalid_request, "no zone: end it with Z for UTC, or +hh:mm");
  }
  if (*rest != '\0') return error(ErrorCode::invalid_request, "trailing '{}'", rest);
  return (static_cast<int64_t>(timegm(&tm)) - offset_minutes * 60) * 1000 + millis;
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

}  // namespace cairn::tools
