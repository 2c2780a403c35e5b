#include "proto/topic_partition.h"

namespace cairn {

Status validate_topic_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxTopicNameLength) {
    return error(ErrorCode::invalid_topic, "topic name must have 1 to {} characters, not {}",
                 kMaxTopicNameLength, name.size());
  }
  if (name.front() == '.') {
    return error(ErrorCode::invalid_topic, "topic name '{}' must not start with '.'", name);
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) {
      return error(ErrorCode::invalid_topic,
                   "topic name '{}' may only use letters, digits, '.', '_' and '-'", name);
    }
  }
  return {};
}

bool is_internal_topic(std::string_view name) { return name.starts_with("__"); }

}  // namespace cairn
