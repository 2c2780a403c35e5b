#include "storage/log_config.h"

#include <charconv>
#include <functional>
#include <optional>
#include <string_view>

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
    {"delete.retention.ms", &LogConfig::delete_retention_ms, 0},
    {"preallocate.bytes", &LogConfig::preallocate_bytes, 0},
};

std::string_view policy_name(FlushPolicy policy) {
  return policy == FlushPolicy::on_append ? "on_append" : "interval";
}

std::string_view policy_name(CleanupPolicy policy) {
  switch (policy) {
    case CleanupPolicy::delete_old: return "delete";
    case CleanupPolicy::compact: return "compact";
    case CleanupPolicy::compact_and_delete: return "compact,delete";
  }
  return "delete";
}

// Accepts both orders of the combined policy, as Kafka does.
std::optional<CleanupPolicy> parse_cleanup_policy(std::string_view value) {
  if (value == "delete") return CleanupPolicy::delete_old;
  if (value == "compact") return CleanupPolicy::compact;
  if (value == "compact,delete" || value == "delete,compact") {
    return CleanupPolicy::compact_and_delete;
  }
  return std::nullopt;
}

Result<LogConfig> apply_policy(LogConfig config, const std::string& key, const std::string& value) {
  if (key == "flush.policy") {
    if (value == "on_append") {
      config.flush_policy = FlushPolicy::on_append;
    } else if (value == "interval") {
      config.flush_policy = FlushPolicy::interval;
    } else {
      return error(ErrorCode::invalid_config,
                   "flush.policy must be on_append or interval, not '{}'", value);
    }
    return config;
  }
  auto cleanup = parse_cleanup_policy(value);
  if (!cleanup) {
    return error(ErrorCode::invalid_config,
                 "cleanup.policy must be delete, compact or compact,delete, not '{}'", value);
  }
  config.cleanup_policy = *cleanup;
  return config;
}

}  // namespace

bool compacts(CleanupPolicy policy) { return policy != CleanupPolicy::delete_old; }
bool deletes(CleanupPolicy policy) { return policy != CleanupPolicy::compact; }

Result<LogConfig> LogConfig::with(const std::map<std::string, std::string>& overrides) const {
  LogConfig config = *this;
  for (const auto& [key, value] : overrides) {
    if (key == "flush.policy" || key == "cleanup.policy") {
      auto applied = apply_policy(config, key, value);
      if (!applied.ok()) return applied.status();
      config = *applied;
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
  out["cleanup.policy"] = std::string(policy_name(cleanup_policy));
  return out;
}

}  // namespace cairn::storage
