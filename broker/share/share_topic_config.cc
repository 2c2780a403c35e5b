#include "broker/share/share_topic_config.h"

#include <charconv>

#include "proto/topic_partition.h"

namespace cairn::broker {

constexpr std::string_view kMaxDeliveryAttempts = "max.delivery.attempts";
constexpr std::string_view kDeadLetterTopic = "dead.letter.topic";

bool is_share_topic_config(std::string_view key) { return key == kMaxDeliveryAttempts || key == kDeadLetterTopic; }

Result<ShareTopicConfig> share_topic_config(std::string_view topic,
                                            const std::map<std::string, std::string>& overrides) {
  ShareTopicConfig out;
  if (auto it = overrides.find(std::string(kMaxDeliveryAttempts)); it != overrides.end()) {
    int32_t attempts = 0;
    const std::string& v = it->second;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), attempts);
    if (ec != std::errc() || end != v.data() + v.size() || attempts < 1 || attempts > 1000) {
      return error(ErrorCode::invalid_config, "{} must be an integer from 1 to 1000, not '{}'", kMaxDeliveryAttempts, v);
    }
    out.max_delivery_attempts = attempts;
  }
  if (auto it = overrides.find(std::string(kDeadLetterTopic)); it != overrides.end()) {
    Status valid = validate_topic_name(it->second);
    if (!valid.ok() || is_internal_topic(it->second)) {
      return error(ErrorCode::invalid_config, "{} '{}' is not a name a user topic can have", kDeadLetterTopic,
                   it->second);
    }
    if (it->second == topic) {
      return error(ErrorCode::invalid_config,
                   "{} of topic '{}' cannot be the topic itself: its dead letters would come back to "
                   "the workers that gave up on them; leave it unset for '{}.dlq', or name another topic",
                   kDeadLetterTopic, topic, topic);
    }
    out.dead_letter_topic = it->second;
  }
  return out;
}

std::map<std::string, std::string> log_overrides(const std::map<std::string, std::string>& overrides) {
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : overrides) {
    if (!is_share_topic_config(key)) out.emplace(key, value);
  }
  return out;
}

}  // namespace cairn::broker
