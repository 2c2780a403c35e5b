#pragma once

#include <cstdint>
#include <string_view>

namespace cairn {

// The internal topic holding consumer groups' committed offsets; the leader
// of a group's partition of it is the group's coordinator.
constexpr const char* kOffsetsTopic = "__consumer_offsets";

// The partition of __consumer_offsets (of `partitions`) that holds a
// group's offsets: FNV-1a of its name. Fixed forever: brokers find the
// offsets where they were written, and clients the group's coordinator.
inline int32_t offsets_partition_of(std::string_view group, int32_t partitions) {
  uint32_t h = 2166136261u;
  for (unsigned char c : group) h = (h ^ c) * 16777619u;
  return static_cast<int32_t>(h % static_cast<uint32_t>(partitions));
}

}  // namespace cairn
