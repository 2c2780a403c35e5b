#pragma once

#include <optional>
#include <string>

#include "broker/group/group.h"
#include "proto/record_batch.h"
#include "proto/topic_partition.h"

namespace cairn::broker {

// How committed offsets are stored as records of the internal topic
// __consumer_offsets (keyed, so compaction keeps the newest per group and
// partition):
//   key   = 'o' | varint len, group | varint len, topic | partition be32
//   value = offset be64 | commit time ms be64 | metadata bytes (rest)
// A null value (tombstone) forgets the offset.
struct OffsetRecord {
  std::string group;
  TopicPartition tp;
  std::optional<CommittedOffset> value;  // nullopt: deleted
};

std::string offset_record_key(const std::string& group, const TopicPartition& tp);
std::string offset_record_value(const CommittedOffset& offset);
// Parses a record of __consumer_offsets; nullopt for one that is not an
// offset record (skipped, so later record kinds do not break older brokers).
std::optional<OffsetRecord> parse_offset_record(const Record& record);

}  // namespace cairn::broker
