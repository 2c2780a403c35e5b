#include "broker/replication/segment_raft_log.h"

#include "proto/assert.h"
#include "proto/byte_io.h"
#include "proto/control_batch.h"
#include "proto/record_batch.h"

namespace cairn::broker {

namespace {

Result<std::string> control_batch_for(const raft::Entry& entry) {
  auto type = entry.type == raft::EntryType::noop ? ControlType::leader_change : ControlType::voters;
  return build_control_batch(type, entry.payload, /*timestamp_ms=*/0);
}

// The entry one stored batch is.
Result<raft::Entry> entry_of(const BatchHeader& header, std::span<const std::byte> batch) {
  raft::Entry entry{header.leader_epoch, header.base_offset, header.last_offset(),
                    raft::EntryType::data, {}};
  if (!header.is_control()) {
    entry.payload.assign(as_chars(batch).begin(), as_chars(batch).end());
    return entry;
  }
  auto records = decode_batch(batch);
  if (!records.ok()) return records.status();
  auto type = records->size() == 1 ? control_type_of(records->front()) : std::nullopt;
  if (!type) {
    return error(ErrorCode::storage_corrupt, "control batch at offset {} holds no known entry",
                 header.base_offset);
  }
  entry.type = *type == ControlType::leader_change ? raft::EntryType::noop
                                                   : raft::EntryType::membership;
  entry.payload = records->front().value.value_or("");
  return entry;
}

}  // namespace

std::optional<raft::EntryBounds> SegmentRaftLog::entry_bounds(Offset index) const {
  if (index == first_index() - 1) {
    // The base. Its term is unknown only if the index lost it with the
    // batch: then 0, which makes a leader's consistency check fail here
    // (never pass wrongly) until it sends a jump.
    Term term = log_.term_at(index).value_or(Term(0));
    return raft::EntryBounds{index, index, term};
  }
  if (index < first_index() || index > last_index()) return std::nullopt;
  if (last_entry_ && last_entry_->last == last_index() && index >= last_entry_->first) {
    return last_entry_;
  }
  auto header = log_.batch_header_at(index);
  CAIRN_ASSERT(header.ok());
  raft::EntryBounds bounds{header->base_offset, header->last_offset(), header->leader_epoch};
  if (bounds.last == last_index()) last_entry_ = bounds;
  return bounds;
}

Status SegmentRaftLog::append(std::vector<raft::Entry> entries) {
  // One log append per run of entries of one term: each stamps its term.
  size_t begin = 0;
  while (begin < entries.size()) {
    size_t end = begin;
    std::vector<std::string> control_batches;
    control_batches.reserve(entries.size());
    std::vector<std::span<const std::byte>> batches;
    Offset expected = last_index() + 1;
    for (; end < entries.size() && entries[end].term == entries[begin].term; ++end) {
      const raft::Entry& entry = entries[end];
      CAIRN_ASSERT(entry.first == expected && entry.first <= entry.last);
      expected = entry.last + 1;
      if (entry.type == raft::EntryType::data) {
        auto header = parse_batch_header(as_bytes(entry.payload), entry.payload.size());
        if (!header.ok()) return header.status();
        if (header->last_offset_delta + 1 != entry.index_count() || header->is_control()) {
          return error(ErrorCode::corrupt_batch,
                       "entry [{}, {}] holds a batch of {} offsets{}", entry.first, entry.last,
                       header->last_offset_delta + 1, header->is_control() ? " (control)" : "");
        }
        batches.push_back(as_bytes(entry.payload));
      } else {
        CAIRN_ASSERT(entry.first == entry.last);
        auto batch = control_batch_for(entry);
        if (!batch.ok()) return batch.status();
        control_batches.push_back(std::move(*batch));
        batches.push_back(as_bytes(control_batches.back()));
      }
    }
    auto appended = log_.append(batches, entries[begin].term);
    if (!appended.ok()) return appended.status();
    CAIRN_ASSERT(appended->base_offset == entries[begin].first &&
                 appended->last_offset == entries[end - 1].last);
    const raft::Entry& last = entries[end - 1];
    last_entry_ = raft::EntryBounds{last.first, last.last, last.term};
    begin = end;
  }
  return {};
}

Status SegmentRaftLog::truncate_suffix(Offset from) {
  last_entry_.reset();
  return log_.truncate_suffix(from);
}

Result<std::vector<raft::Entry>> SegmentRaftLog::read(Offset from, int64_t max_bytes,
                                                      int32_t max_entries) const {
  auto read = log_.read(from, static_cast<size_t>(std::max<int64_t>(max_bytes, 0)), Offset::max());
  if (!read.ok()) return read.status();
  std::vector<raft::Entry> entries;
  auto data = as_bytes(read->bytes);
  while (!data.empty() && std::ssize(entries) < max_entries) {
    auto header = parse_batch_header(data, data.size());
    if (!header.ok()) return header.status();  // the log returns whole, verified batches
    if (entries.empty() && header->base_offset != from) {
      return error(ErrorCode::offset_out_of_range, "no entry starts at {} (the batch holding it "
                   "starts at {})", from, header->base_offset);
    }
    auto entry = entry_of(*header, data.subspan(0, header->size_bytes()));
    if (!entry.ok()) return entry.status();
    entries.push_back(std::move(*entry));
    data = data.subspan(header->size_bytes());
  }
  if (entries.empty()) {
    return error(ErrorCode::offset_out_of_range, "no entry starts at {} (log [{}, {}])", from,
                 first_index(), last_index());
  }
  return entries;
}

Status SegmentRaftLog::reset(Offset base_index, Term base_term) {
  last_entry_.reset();
  return log_.reset(base_index + 1, base_term);
}

}  // namespace cairn::broker
