#include "broker/group/offset_records.h"

#include "proto/byte_io.h"

namespace cairn::broker {

constexpr char kOffsetKind = 'o';

std::string offset_record_key(const std::string& group, const TopicPartition& tp) {
  std::string key(1, kOffsetKind);
  append_varint(key, static_cast<int64_t>(group.size()));
  key += group;
  append_varint(key, static_cast<int64_t>(tp.topic.size()));
  key += tp.topic;
  append_be<int32_t>(key, tp.partition);
  return key;
}

std::string offset_record_value(const CommittedOffset& offset) {
  std::string value;
  append_be<int64_t>(value, offset.offset);
  append_be<int64_t>(value, offset.commit_time_ms);
  value += offset.metadata;
  return value;
}

std::optional<OffsetRecord> parse_offset_record(const Record& record) {
  if (!record.key || record.key->empty() || (*record.key)[0] != kOffsetKind) return std::nullopt;
  ByteReader in(as_bytes(*record.key).subspan(1));
  OffsetRecord out;
  auto group_length = in.varint();
  if (!group_length || *group_length < 0 || !in.bytes(out.group, static_cast<size_t>(*group_length))) {
    return std::nullopt;
  }
  auto topic_length = in.varint();
  if (!topic_length || *topic_length < 0 || !in.bytes(out.tp.topic, static_cast<size_t>(*topic_length)) ||
      in.remaining() != 4) {
    return std::nullopt;
  }
  out.tp.partition = load_be<int32_t>(as_bytes(*record.key).data() + record.key->size() - 4);
  if (record.value) {
    if (record.value->size() < 16) return std::nullopt;
    const auto* v = reinterpret_cast<const std::byte*>(record.value->data());
    out.value = CommittedOffset{load_be<int64_t>(v), record.value->substr(16), load_be<int64_t>(v + 8),
                                record.timestamp_ms};
  }
  return out;
}

}  // namespace cairn::broker
