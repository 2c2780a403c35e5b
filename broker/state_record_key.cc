#include "broker/state_record_key.h"

#include "proto/byte_io.h"

namespace cairn::broker {

std::string state_record_key(char kind, const std::string& group, const TopicPartition& tp) {
  std::string key(1, kind);
  append_varint(key, static_cast<int64_t>(group.size()));
  key += group;
  append_varint(key, static_cast<int64_t>(tp.topic.size()));
  key += tp.topic;
  append_be<int32_t>(key, tp.partition);
  return key;
}

std::optional<StateRecordKey> parse_state_record_key(char kind, std::string_view key) {
  if (key.empty() || key[0] != kind) return std::nullopt;
  ByteReader in(as_bytes(key).subspan(1));
  StateRecordKey out;
  auto group_length = in.varint();
  if (!group_length || *group_length < 0 || !in.bytes(out.group, static_cast<size_t>(*group_length))) {
    return std::nullopt;
  }
  auto topic_length = in.varint();
  if (!topic_length || *topic_length < 0 || !in.bytes(out.tp.topic, static_cast<size_t>(*topic_length))) {
    return std::nullopt;
  }
  auto partition = in.take(4);
  if (!partition || in.remaining() != 0) return std::nullopt;
  out.tp.partition = load_be<int32_t>(partition->data());
  return out;
}

}  // namespace cairn::broker
