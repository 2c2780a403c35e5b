#include "broker/share/share_state_records.h"

#include "broker/state_record_key.h"

namespace cairn::broker {

constexpr char kShareStateKind = 'q';

std::string share_state_key(const std::string& group, const TopicPartition& tp) {
  return state_record_key(kShareStateKind, group, tp);
}

std::optional<ShareStateRecord> parse_share_state_record(const Record& record) {
  if (!record.key) return std::nullopt;
  auto key = parse_state_record_key(kShareStateKind, *record.key);
  if (!key) return std::nullopt;
  return ShareStateRecord{std::move(key->group), std::move(key->tp), record.value};
}

}  // namespace cairn::broker
