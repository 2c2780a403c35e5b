#include "broker/share/share_partition.h"

#include <algorithm>

#include "proto/assert.h"
#include "proto/byte_io.h"

namespace cairn::broker {

namespace {

bool done(DeliveryState state) {
  return state == DeliveryState::acknowledged || state == DeliveryState::archived;
}

constexpr uint8_t kEncodingVersion = 1;
// A reason longer than this is cut when stored: it is for a person to read.
constexpr size_t kMaxReasonBytes = 512;

}  // namespace

std::vector<Offset> SharePartition::acquire_available(const std::string& member, size_t max,
                                                      ShareTime now, const SharePartitionLimits& limits) {
  std::vector<Offset> out;
  for (auto& [offset, record] : records_) {
    if (out.size() >= max) break;
    if (record.state != DeliveryState::available) continue;
    if (record.delivery_count >= limits.max_delivery_attempts) {
      // Its last delivery ended with a broker restart (which ends every
      // lock), or the limit was lowered since.
      record.state = DeliveryState::dead_lettering;
      if (record.last_error.empty()) record.last_error = "the broker restarted during its last allowed delivery";
      continue;
    }
    record.state = DeliveryState::acquired;
    record.member = member;
    record.lock_until_ms = now.steady_ms + limits.record_lock_ms;
    record.last_delivery_ms = now.wall_ms;
    if (record.delivery_count == 0) record.first_delivery_ms = now.wall_ms;
    ++record.delivery_count;
    out.push_back(offset);
  }
  return out;
}

size_t SharePartition::room(const SharePartitionLimits& limits) const {
  auto max = static_cast<size_t>(std::max(limits.max_record_locks, 1));
  return records_.size() >= max ? 0 : max - records_.size();
}

void SharePartition::acquire_new(Offset offset, const std::string& member, ShareTime now,
                                 const SharePartitionLimits& limits) {
  CAIRN_ASSERT(offset >= end_);
  InFlightRecord& record = records_[offset];
  record.state = DeliveryState::acquired;
  record.member = member;
  record.lock_until_ms = now.steady_ms + limits.record_lock_ms;
  record.first_delivery_ms = record.last_delivery_ms = now.wall_ms;
  record.delivery_count = 1;
  end_ = offset + 1;
  if (records_.size() == 1) start_ = offset;
}

void SharePartition::skip_to(Offset offset) {
  if (offset <= end_) return;
  end_ = offset;
  if (records_.empty()) start_ = end_;
}

void SharePartition::drop_below(Offset log_start) {
  if (log_start <= start_) return;
  records_.erase(records_.begin(), records_.lower_bound(log_start));
  end_ = std::max(end_, log_start);
  start_ = log_start;
  advance_start();
}

void SharePartition::forget(Offset offset) {
  auto it = records_.find(offset);
  if (it == records_.end()) return;
  it->second.state = DeliveryState::acknowledged;
  advance_start();
}

Status SharePartition::acknowledge(const std::string& member, Offset first, Offset last, AckType type,
                                   std::string_view reason, int64_t steady_ms,
                                   const SharePartitionLimits& limits) {
  if (last < first) return error(ErrorCode::invalid_request, "acknowledgement of [{}, {}]: last before first", first.value, last.value);
  if (last >= end_) {
    return error(ErrorCode::record_not_acquired, "offset {} was never delivered to this group", last.value);
  }
  auto begin = records_.lower_bound(first);
  auto stop = records_.upper_bound(last);
  // All or nothing: check every record of the range first.
  for (auto it = begin; it != stop; ++it) {
    const InFlightRecord& record = it->second;
    if (record.state != DeliveryState::acquired || record.member != member) {
      return error(ErrorCode::record_not_acquired,
                   "offset {} is not held by this member (its lock ended and it went back to the "
                   "queue, or it was acknowledged already)",
                   it->first.value);
    }
    if (record.lock_until_ms < steady_ms) {
      return error(ErrorCode::record_not_acquired,
                   "the lock on offset {} ended {} ms ago: the record goes to another member; renew "
                   "locks of long jobs",
                   it->first.value, steady_ms - record.lock_until_ms);
    }
  }
  if (begin == stop && first < start_) {
    return error(ErrorCode::record_not_acquired, "offsets [{}, {}] are done already", first.value, last.value);
  }
  std::string_view kept = reason.substr(0, kMaxReasonBytes);
  for (auto it = begin; it != stop; ++it) {
    InFlightRecord& record = it->second;
    switch (type) {
      case AckType::accept:
        record.state = DeliveryState::acknowledged;
        record.member.clear();
        break;
      case AckType::release:
        fail_delivery(record, kept.empty() ? "released" : kept, limits);
        break;
      case AckType::reject:
        record.state = DeliveryState::dead_lettering;
        record.member.clear();
        record.last_error = kept.empty() ? "rejected" : std::string(kept);
        break;
      case AckType::give_back:
        record.state = DeliveryState::available;
        record.member.clear();
        --record.delivery_count;
        break;
      case AckType::renew:
        record.lock_until_ms = steady_ms + limits.record_lock_ms;
        break;
    }
  }
  advance_start();
  return {};
}

bool SharePartition::release_expired(int64_t steady_ms, const SharePartitionLimits& limits) {
  bool any = false;
  for (auto& [offset, record] : records_) {
    if (record.state != DeliveryState::acquired || record.lock_until_ms >= steady_ms) continue;
    fail_delivery(record, "the lock ended before the record was acknowledged (the member died, or the job "
                          "outlived record_lock_ms without renewing)", limits);
    any = true;
  }
  return any;
}

bool SharePartition::release_member(const std::string& member, const SharePartitionLimits& limits) {
  bool any = false;
  for (auto& [offset, record] : records_) {
    if (record.state != DeliveryState::acquired || record.member != member) continue;
    fail_delivery(record, "the member left holding the record", limits);
    any = true;
  }
  return any;
}

void SharePartition::fail_delivery(InFlightRecord& record, std::string_view reason,
                                   const SharePartitionLimits& limits) {
  record.member.clear();
  record.last_error = std::string(reason);
  record.state = record.delivery_count >= limits.max_delivery_attempts ? DeliveryState::dead_lettering
                                                                        : DeliveryState::available;
}

std::vector<Offset> SharePartition::dead_lettering() const {
  std::vector<Offset> out;
  for (const auto& [offset, record] : records_) {
    if (record.state == DeliveryState::dead_lettering) out.push_back(offset);
  }
  return out;
}

void SharePartition::mark_dead_lettered(Offset offset) {
  auto it = records_.find(offset);
  if (it == records_.end() || it->second.state != DeliveryState::dead_lettering) return;
  it->second.state = DeliveryState::archived;
  advance_start();
}

void SharePartition::reset(Offset offset) {
  records_.clear();
  start_ = end_ = offset;
}

bool SharePartition::any_acquired() const {
  return std::any_of(records_.begin(), records_.end(),
                     [](const auto& entry) { return entry.second.state == DeliveryState::acquired; });
}

size_t SharePartition::acquired_by(const std::string& member) const {
  return static_cast<size_t>(std::count_if(records_.begin(), records_.end(), [&](const auto& entry) {
    return entry.second.state == DeliveryState::acquired && entry.second.member == member;
  }));
}

void SharePartition::advance_start() {
  while (!records_.empty() && done(records_.begin()->second.state)) records_.erase(records_.begin());
  start_ = records_.empty() ? end_ : records_.begin()->first;
}

// version u8 | start be64 | end be64 | count varint | per record:
//   offset - start varint | state u8 | delivery_count varint |
//   first_delivery_ms varint | last_delivery_ms varint | reason length varint, bytes
std::string SharePartition::encode() const {
  std::string out(1, static_cast<char>(kEncodingVersion));
  append_be<int64_t>(out, start_.value);
  append_be<int64_t>(out, end_.value);
  append_varint(out, static_cast<int64_t>(records_.size()));
  for (const auto& [offset, record] : records_) {
    append_varint(out, offset - start_);
    DeliveryState state = record.state == DeliveryState::acquired ? DeliveryState::available : record.state;
    out.push_back(static_cast<char>(state));
    append_varint(out, record.delivery_count);
    append_varint(out, record.first_delivery_ms);
    append_varint(out, record.last_delivery_ms);
    append_varint(out, static_cast<int64_t>(record.last_error.size()));
    out += record.last_error;
  }
  return out;
}

Result<SharePartition> SharePartition::decode(std::string_view bytes) {
  auto malformed = [&](std::string_view what) {
    return error(ErrorCode::storage_corrupt, "share partition state of {} bytes: {}", bytes.size(), what);
  };
  ByteReader in(as_bytes(bytes));
  auto version = in.int8();
  if (!version || *version != kEncodingVersion) return malformed("unknown version");
  auto head = in.take(16);
  if (!head) return malformed("truncated header");
  SharePartition out(Offset(load_be<int64_t>(head->data())));
  out.end_ = Offset(load_be<int64_t>(head->data() + 8));
  auto count = in.varint();
  if (!count || *count < 0 || out.end_ < out.start_) return malformed("bad bounds");
  for (int64_t i = 0; i < *count; ++i) {
    auto delta = in.varint();
    auto state = in.int8();
    auto deliveries = in.varint();
    auto first = in.varint();
    auto last = in.varint();
    auto reason_length = in.varint();
    if (!delta || !state || !deliveries || !first || !last || !reason_length || *delta < 0 ||
        *state < 0 || *state > static_cast<int8_t>(DeliveryState::archived) || *reason_length < 0) {
      return malformed("bad record");
    }
    Offset offset = out.start_ + *delta;
    if (offset >= out.end_) return malformed("record past the end");
    InFlightRecord& record = out.records_[offset];
    record.state = static_cast<DeliveryState>(*state);
    if (record.state == DeliveryState::acquired) record.state = DeliveryState::available;
    record.delivery_count = static_cast<int32_t>(*deliveries);
    record.first_delivery_ms = *first;
    record.last_delivery_ms = *last;
    if (!in.bytes(record.last_error, static_cast<size_t>(*reason_length))) return malformed("bad reason");
  }
  if (in.remaining() != 0) return malformed("trailing bytes");
  out.advance_start();
  return out;
}

}  // namespace cairn::broker
