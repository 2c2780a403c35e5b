#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "proto/topic_partition.h"

namespace cairn::broker {

// The key of a coordinator's state record about one group and partition
// (committed offsets, share-group deliveries), so that compaction keeps the
// newest per group and partition:
//   kind byte | varint len, group | varint len, topic | partition be32
std::string state_record_key(char kind, const std::string& group, const TopicPartition& tp);

struct StateRecordKey {
  std::string group;
  TopicPartition tp;
};
// nullopt for a key of another kind, or malformed (skipped: later kinds do
// not break older brokers).
std::optional<StateRecordKey> parse_state_record_key(char kind, std::string_view key);

}  // namespace cairn::broker
