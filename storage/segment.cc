#include "storage/segment.h"

#include <charconv>

#include <fmt/format.h>

namespace cairn::storage {

constexpr std::string_view kSegmentSuffix = ".log";
constexpr size_t kSegmentDigits = 20;
constexpr std::string_view kCleanedSuffix = ".cleaned";

std::string segment_file_name(Offset base) { return fmt::format("{:020d}.log", base.value); }

std::string cleaned_file_path(const std::string& segment_path) {
  return segment_path + std::string(kCleanedSuffix);
}

bool is_cleaned_file_name(std::string_view name) {
  return name.ends_with(kCleanedSuffix) &&
         parse_segment_file_name(name.substr(0, name.size() - kCleanedSuffix.size()));
}

std::optional<Offset> parse_segment_file_name(std::string_view name) {
  if (name.size() != kSegmentDigits + kSegmentSuffix.size() || !name.ends_with(kSegmentSuffix)) {
    return std::nullopt;
  }
  int64_t base = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + kSegmentDigits, base);
  if (ec != std::errc() || end != name.data() + kSegmentDigits || base < 0) return std::nullopt;
  return Offset(base);
}

}  // namespace cairn::storage
