#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "proto/status.h"

namespace cairn::broker {

// Places a new topic's replicas: partition p gets `replication_factor`
// consecutive brokers of `brokers` (by id), starting at (first + p) mod n.
// Every broker then holds as many replicas, and is the preferred leader
// (first replica) of as many partitions, as any other, give or take one;
// `first` varies between topics so that small topics do not all lead on
// the same broker. Refuses a factor above the brokers there are.
Result<std::vector<std::vector<int32_t>>> assign_replicas(std::vector<int32_t> brokers,
                                                          int32_t partitions,
                                                          int32_t replication_factor,
                                                          uint32_t first);

// One partition's replicas, and where they move.
struct PartitionPlacement {
  std::string topic;
  int32_t partition = 0;
  std::vector<int32_t> replicas;  // preferred leader first
};
struct PartitionMovePlan {
  PartitionPlacement from;
  std::vector<int32_t> to;
};

// Moves every replica off `broker`: each to the broker of `brokers` (the
// others that may take replicas) holding the fewest replicas so far among
// those without one of that partition, in the same position (so the
// preferred leader stays, unless it was `broker`). All or nothing: refused
// if some partition would have nowhere to go.
Result<std::vector<PartitionMovePlan>> plan_decommission(const std::vector<PartitionPlacement>& placement,
                                                         int32_t broker,
                                                         const std::vector<int32_t>& brokers);
// Moves replicas onto `broker` (one of `brokers`, those that may take
// replicas), each from the broker holding the most, until `broker` holds
// its share (total / brokers, rounded down) or no move would even the load.
std::vector<PartitionMovePlan> plan_add(const std::vector<PartitionPlacement>& placement, int32_t broker,
                                        const std::vector<int32_t>& brokers);

}  // namespace cairn::broker
