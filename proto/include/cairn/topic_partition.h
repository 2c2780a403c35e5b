#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "cairn/status.h"

namespace cairn {

// A partition of a topic: the unit of ordering, storage and replication.
struct TopicPartition {
  std::string topic;
  int32_t partition = 0;

  auto operator<=>(const TopicPartition&) const = default;
};

// Topic names: 1..249 characters of [A-Za-z0-9._-], not starting with '.'
// (the data folder keeps its own entries there). Names are folder names.
constexpr size_t kMaxTopicNameLength = 249;
Status validate_topic_name(std::string_view name);

// Names starting with "__" belong to the brokers (__consumer_offsets, and the
// queue and transaction state topics to come): the broker writes, deletes and
// configures them itself, clients may only read them. The one place that
// decides which topics are internal.
bool is_internal_topic(std::string_view name);

}  // namespace cairn
