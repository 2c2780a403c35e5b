#pragma once

#include <map>
#include <set>
#include <string>

#include "proto/status.h"
#include "proto/topic_partition.h"

namespace cairn::broker {

// Partitions per member id.
using Assignment = std::map<std::string, std::set<TopicPartition>>;

struct AssignorInput {
  std::map<std::string, std::set<std::string>> subscriptions;  // member -> topics
  std::map<std::string, int32_t> partitions;                    // topic -> partition count
  Assignment current;  // the previous target, for stickiness
};

// "range": per topic, members in id order take contiguous ranges of
// partitions (the first ones one more when it does not divide).
Assignment assign_range(const AssignorInput& input);

// "uniform": every partition to exactly one subscribed member, counts as
// even as subscriptions allow, keeping current owners wherever that stays
// balanced (sticky: a member joining or leaving moves few partitions).
Assignment assign_uniform(const AssignorInput& input);

// The assignor named `name`, or invalid_request.
Result<Assignment> assign(const std::string& name, const AssignorInput& input);

}  // namespace cairn::broker
