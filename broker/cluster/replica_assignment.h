#pragma once

#include <cstdint>
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

}  // namespace cairn::broker
