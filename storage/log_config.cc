#include "storage/log_config.h"

#include <charconv>
#include <functional>

namespace cairn::storage {
namespace {

struct Field {
  const char* key;
  int64_t LogConfig::*member;
  int64_t min_value;
};

// Keys that hold integers, with the smallest value each accepts.
constexpr Field kIntFields[] = {
    {"segment.bytes", &LogConfig::segment_bytes, 1024},
    {"segment.ms", &LogConfig::segment_ms, 1},
    {"retention.ms", &LogConfig::retention_ms, -1},
    {"retention.bytes", &LogConfig::retention_bytes, -1},
    {"max.message.bytes", &LogConfig::max_message_bytes, 64},
    {"flush.ms", &LogConfig::flush_ms, 1},
    {"flush.bytes", &LogConfig::flush_bytes, 1},
};

std::string_view policy_name(FlushPolicy policy) {
  return policy == FlushPolicy::on_append ? "on_append" : "interval";
}

}  // namespace

Result<LogConfig> LogConfig::with(const std::map<std::string, std::string>& overrides) const {
  LogConfig config = *this;
  for (const auto& [key, value] : overrides) {
    if (key == "flush.policy") {
      if (value == "on_append") {
        config.flush_policy = FlushPolicy::on_append;
      } else if (value == "interval") {
        config.flush_policy = FlushPolicy::interval;
      } else {
        return error(ErrorCode::invalid_config,
                     "flush.policy must be on_append or interval, not '{}'", value);
      }
      continue;
    }
    const Field* field = nullptr;
    for (const auto& f : kIntFields) {
      if (key == f.key) field = &f;
    }
    if (!field) return error(ErrorCode::invalid_config, "unknown config key '{}'", key);
    int64_t parsed = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), parsed);
    if (ec != std::errc() || end != value.data() + value.size() || parsed < field->min_value) {
      return error(ErrorCode::invalid_config, "{} must be an integer >= {}, not '{}'", key,
                   field->min_value, value);
    }
    config.*(field->member) = parsed;
  }
  return config;
}

std::map<std::string, std::string> LogConfig::to_map() const {
  std::map<std::string, std::string> out;
  for (const auto& f : kIntFields) out[f.key] = std::to_string(this->*(f.member));
  out["flush.policy"] = std::string(policy_name(flush_policy));
  return out;
}

}  // namespace cairn::storage
