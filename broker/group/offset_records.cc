#include "broker/group/offset_records.h"

#include "broker/state_record_key.h"
#include "proto/byte_io.h"

namespace cairn::broker {

constexpr char kOffsetKind = 'o';

std::string offset_record_key(const std::string& group, const TopicPartition& tp) {
  return state_record_key(kOffsetKind, group, tp);
}

std::string offset_record_value(const CommittedOffset& offset) {
  std::string value;
  append_be<int64_t>(value, offset.offset);
  append_be<int64_t>(value, offset.commit_time_ms);
  value += offset.metadata;
  return value;
}

std::optional<OffsetRecord> parse_offset_record(const Record& record) {
  if (!record.key) return std::nullopt;
  auto key = parse_state_record_key(kOffsetKind, *record.key);
  if (!key) return std::nullopt;
  OffsetRecord out{std::move(key->group), std::move(key->tp), std::nullopt};
  if (record.value) {
    if (record.value->size() < 16) return std::nullopt;
    const auto* v = reinterpret_cast<const std::byte*>(record.value->data());
    out.value = CommittedOffset{load_be<int64_t>(v), record.value->substr(16), load_be<int64_t>(v + 8),
                                record.timestamp_ms};
  }
  return out;
}

}  // namespace cairn::broker
