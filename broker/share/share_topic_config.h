#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "proto/status.h"

namespace cairn::broker {

// The topic configs share groups read; the log ignores them:
//   max.delivery.attempts  deliveries of a record before it is dead-lettered
//                          (default: the broker's --share-max-delivery-attempts)
//   dead.letter.topic      where its dead letters go (default: <topic>.dlq)
struct ShareTopicConfig {
  std::optional<int32_t> max_delivery_attempts;
  std::optional<std::string> dead_letter_topic;
};

bool is_share_topic_config(std::string_view key);
// The share configs among `topic`'s `overrides`, checked (invalid_config
// names the bad one). A topic cannot be its own dead-letter topic: its dead
// letters would be delivered to the group that gave up on them, forever.
Result<ShareTopicConfig> share_topic_config(std::string_view topic,
                                            const std::map<std::string, std::string>& overrides);
// `overrides` without the share configs: what the log's config is made of.
std::map<std::string, std::string> log_overrides(const std::map<std::string, std::string>& overrides);

}  // namespace cairn::broker
