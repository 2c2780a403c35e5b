#pragma once

#include <optional>
#include <string>

#include "broker/share/share_partition.h"
#include "proto/group_placement.h"
#include "proto/record_batch.h"
#include "proto/topic_partition.h"

namespace cairn::broker {

// How a share partition's state is stored as a record of __share_group_state
// (kShareStateTopic), whose newest record per key is the state: compaction
// keeps it on a broker alone, the coordinator's rewrites in a cluster:
//   key   = 'q' | varint len, group | varint len, topic | partition be32
//   value = SharePartition::encode()
// A null value (tombstone) forgets it (the topic or the group was deleted).
struct ShareStateRecord {
  std::string group;
  TopicPartition tp;
  std::optional<std::string> state;  // nullopt: deleted
};

std::string share_state_key(const std::string& group, const TopicPartition& tp);
// nullopt for a record that is not share state (skipped: later kinds do not
// break older brokers).
std::optional<ShareStateRecord> parse_share_state_record(const Record& record);

}  // namespace cairn::broker
