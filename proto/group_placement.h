#pragma once

#include <cstdint>
#include <string_view>

namespace cairn {

// The internal topic holding consumer groups' committed offsets; the leader
// of a group's partition of it is the group's coordinator.
constexpr const char* kOffsetsTopic = "__consumer_offsets";

// The internal topic holding share groups' delivery state; the leader of a
// share group's partition of it (offsets_partition_of, as for offsets) is
// the share group's coordinator.
constexpr const char* kShareStateTopic = "__share_group_state";

// The partition of __consumer_offsets (or __share_group_state; of
// `partitions`) that holds a group's state: FNV-1a of its name. Fixed
// forever: brokers find the state where they wrote it, and clients the
// group's coordinator.
inline int32_t offsets_partition_of(std::string_view group, int32_t partitions) {
  uint32_t h = 2166136261u;
  for (unsigned char c : group) h = (h ^ c) * 16777619u;
  return static_cast<int32_t>(h % static_cast<uint32_t>(partitions));
}

}  // namespace cairn
