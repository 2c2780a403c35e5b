#include "storage/partition_log.h"

#include "storage/log_bounds_file.h"

#include <algorithm>
#include <array>

#include "proto/assert.h"
#include "proto/record_batch_format.h"

#include <spdlog/spdlog.h>

#include "proto/byte_io.h"
#include "storage/batch_scanner.h"

namespace cairn::storage {

// Read-ahead bounds for fetches: small reads stay small, big ones go in one call.
constexpr size_t kMinReadAheadBytes = 4096;
constexpr size_t kMaxReadAheadBytes = 1 << 20;

PartitionLog::PartitionLog(Env& env, Clock& clock, IndexStore& index, TopicPartition tp,
                           std::string dir, LogConfig config)
    : env_(env), clock_(clock), index_(index), tp_(std::move(tp)), dir_(std::move(dir)),
      config_(config) {}

PartitionLog::~PartitionLog() = default;

namespace {

// Compaction keeps the newest record per key, which means nothing for a
// record without one: a compacted topic refuses them, as Kafka does.
Status check_keyed(std::span<const std::byte> batch) {
  auto records = decode_batch(batch);
  if (!records.ok()) return records.status();
  for (const Record& record : *records) {
    if (!record.key) {
      return error(ErrorCode::invalid_request,
                   "a compacted topic needs a key on every record; record {} of the batch has none",
                   record.offset.value);
    }
  }
  return {};
}

}  // namespace

Result<AppendResult> PartitionLog::append(std::span<const std::span<const std::byte>> batches,
                                          Term term) {
  bool want_flush = false;
  auto appended = append_batches(batches, term, &want_flush);
  if (want_flush && flush_hook_) flush_hook_();
  return appended;
}

Result<std::vector<BatchHeader>> PartitionLog::check_batches(
    std::span<const std::span<const std::byte>> batches) const {
  LogConfig config = this->config();
  std::vector<BatchHeader> headers;
  headers.reserve(batches.size());
  for (auto batch : batches) {
    auto header = validate_batch(batch, static_cast<size_t>(config.max_message_bytes));
    if (!header.ok()) return header.status();
    if (compacts(config.cleanup_policy)) CAIRN_RETURN_IF_ERROR(check_keyed(batch));
    headers.push_back(*header);
  }
  return headers;
}

Result<AppendResult> PartitionLog::append_batches(
    std::span<const std::span<const std::byte>> batches, Term term, bool* want_flush) {
  CAIRN_ASSERT(!batches.empty());
  // Every batch is validated (CRC, record framing) before the lock and
  // before any is written.
  auto checked = check_batches(batches);
  if (!checked.ok()) return checked.status();
  std::vector<BatchHeader>& headers = *checked;
  size_t total_bytes = 0;
  for (auto batch : batches) total_bytes += batch.size();

  std::lock_guard lock(mutex_);
  if (failed_) return failed_status_;
  if (closed_) return error(ErrorCode::shutting_down, "partition {} is closed", tp_);
  if (!epochs_.empty() && term < epochs_.back().term) {
    return error(ErrorCode::invalid_request, "{}: term {} is below the log's last term {}", tp_,
                 term, epochs_.back().term);
  }
  int64_t now_ms = clock_.now_ms();
  // What can fail without a byte written fails first: the roll, and writing
  // the index entries earlier appends left pending.
  CAIRN_RETURN_IF_ERROR(maybe_roll_locked(total_bytes, now_ms));
  CAIRN_RETURN_IF_ERROR(persist_index_if_full_locked());

  // One gather write of every batch, each with its offset and term stamped
  // into a copy of its header; the caller's bytes are not changed.
  Segment& active = *segments_.rbegin()->second;
  std::vector<std::array<std::byte, batch_format::kHeaderSize>> stamped(batches.size());
  std::vector<std::span<const std::byte>> parts;
  parts.reserve(2 * batches.size());
  Offset next = log_end_;
  for (size_t i = 0; i < batches.size(); ++i) {
    std::copy_n(batches[i].begin(), stamped[i].size(), stamped[i].begin());
    stamp_batch(stamped[i], next, term);
    headers[i].base_offset = next;
    headers[i].leader_epoch = term;
    next = headers[i].next_offset();
    parts.push_back(stamped[i]);
    parts.push_back(batches[i].subspan(stamped[i].size()));
  }
  uint64_t position = active.size_bytes;
  Status written = active.file->append(parts);
  if (!written.ok()) {
    // Cut any partial write so the segment still ends on a batch boundary.
    Status cut = active.file->truncate(position);
    active.zeroed_until = position;
    if (!cut.ok()) {
      closed_ = true;
      spdlog::error("partition {}: cannot undo a failed append ({}); closing it", tp_,
                    cut.to_string());
    }
    return written;
  }

  // From here nothing fails: the request is in the log.
  if (active.empty()) active.created_ms = now_ms;
  for (const BatchHeader& header : headers) {
    index_batch_locked(active, header, position);
    position += header.size_bytes();
  }
  active.size_bytes = position;
  active.next_offset = next;
  log_end_ = next;
  zero_ahead_locked(active, total_bytes);
  if (unflushed_bytes_ == 0) first_unflushed_ms_ = now_ms;
  unflushed_bytes_ += total_bytes;
  *want_flush = config_.flush_policy == FlushPolicy::on_append ||
                unflushed_bytes_ >= static_cast<uint64_t>(config_.flush_bytes);
  return AppendResult{headers.front().base_offset, headers.back().last_offset(), now_ms, term};
}

void PartitionLog::index_batch_locked(Segment& segment, const BatchHeader& header,
                                      uint64_t position) {
  OffsetEntry offset_entry{header.base_offset, position};
  TimeEntry time_entry{header.max_timestamp_ms, header.base_offset};
  bool want_offset_entry = segment.bytes_since_index_entry >= kIndexIntervalBytes;
  bool want_time_entry = header.max_timestamp_ms > running_max_ts_;
  if (want_offset_entry) segment.bytes_since_index_entry = 0;
  segment.bytes_since_index_entry += header.size_bytes();
  if (want_time_entry) running_max_ts_ = header.max_timestamp_ms;
  segment.max_timestamp_ms = running_max_ts_;
  if (want_offset_entry) pending_index_.offset_entries.push_back(offset_entry);
  if (want_time_entry) pending_index_.time_entries.push_back(time_entry);
  if (epochs_.empty() || header.leader_epoch > epochs_.back().term) {
    epochs_.push_back({header.leader_epoch, header.base_offset});
    epochs_dirty_ = true;
  }
}

void PartitionLog::drop_epochs_from_locked(Offset offset) {
  auto erased = std::erase_if(epochs_, [&](const EpochEntry& e) { return e.start >= offset; });
  epochs_dirty_ = epochs_dirty_ || erased > 0;
}

void PartitionLog::set_base_epoch_locked(Offset start, Term term) {
  std::erase_if(epochs_, [&](const EpochEntry& e) { return e.start < start || e.term == term; });
  epochs_.insert(epochs_.begin(), EpochEntry{term, start - 1});
  epochs_dirty_ = true;
}

void PartitionLog::trim_epochs_below_start_locked() {
  size_t drop = 0;
  while (drop + 1 < epochs_.size() && epochs_[drop + 1].start <= log_start_ - 1) ++drop;
  if (drop == 0) return;
  epochs_.erase(epochs_.begin(), epochs_.begin() + static_cast<std::ptrdiff_t>(drop));
  epochs_dirty_ = true;
}

std::optional<Term> PartitionLog::term_at(Offset offset) const {
  std::lock_guard lock(mutex_);
  return term_at_locked(offset);
}

std::optional<Term> PartitionLog::last_term() const {
  std::lock_guard lock(mutex_);
  return term_at_locked(log_end_ - 1);
}

std::optional<Term> PartitionLog::term_at_locked(Offset offset) const {
  if (offset < log_start_ - 1 || offset >= log_end_ || offset < Offset(0)) return std::nullopt;
  auto after = std::upper_bound(epochs_.begin(), epochs_.end(), offset,
                                [](Offset o, const EpochEntry& e) { return o < e.start; });
  if (after == epochs_.begin()) return std::nullopt;
  return std::prev(after)->term;
}

Status PartitionLog::persist_index_if_full_locked() {
  bool full = pending_index_.offset_entries.size() + pending_index_.time_entries.size() >=
              kMaxPendingIndexEntries;
  return full ? persist_index_locked(/*clean=*/false, /*sync=*/false) : Status();
}

namespace {

// The last of `entries` (ascending by offset) at or below `offset`.
template <typename Entries>
std::optional<OffsetEntry> floor_in(const Entries& entries, Offset offset) {
  auto after = std::upper_bound(entries.begin(), entries.end(), offset,
                                [](Offset o, const OffsetEntry& e) { return o < e.offset; });
  if (after == entries.begin()) return std::nullopt;
  return *std::prev(after);
}

}  // namespace

std::optional<OffsetEntry> PartitionLog::floor_entry_locked(Offset offset) const {
  // Pending entries are newer than any in RocksDB, and the recent ones are
  // its newest (a suffix): only a read below both needs a lookup.
  if (auto pending = floor_in(pending_index_.offset_entries, offset)) return pending;
  if (!recent_offset_entries_.empty() && recent_offset_entries_.front().offset <= offset) {
    return floor_in(recent_offset_entries_, offset);
  }
  return index_.floor_offset_entry(tp_, offset);
}

void PartitionLog::remember_written_entries_locked(const std::vector<OffsetEntry>& written) {
  CAIRN_ASSERT(written.empty() || recent_offset_entries_.empty() ||
               recent_offset_entries_.back().offset < written.front().offset);
  recent_offset_entries_.insert(recent_offset_entries_.end(), written.begin(), written.end());
  while (recent_offset_entries_.size() > kRecentOffsetEntries) recent_offset_entries_.pop_front();
}

void PartitionLog::forget_recent_entries_below_locked(Offset offset) {
  while (!recent_offset_entries_.empty() && recent_offset_entries_.front().offset < offset) {
    recent_offset_entries_.pop_front();
  }
}

std::optional<TimeEntry> PartitionLog::time_entry_before_locked(int64_t timestamp_ms) const {
  const auto& pending = pending_index_.time_entries;
  for (auto it = pending.rbegin(); it != pending.rend(); ++it) {
    if (it->timestamp_ms < timestamp_ms) return *it;
  }
  return index_.time_entry_before(tp_, timestamp_ms);
}

std::optional<TimeEntry> PartitionLog::last_time_entry_below_locked(Offset offset) const {
  const auto& pending = pending_index_.time_entries;
  for (auto it = pending.rbegin(); it != pending.rend(); ++it) {
    if (it->offset < offset) return *it;
  }
  return index_.last_time_entry_below(tp_, offset);
}

PartitionMeta PartitionLog::meta_locked(bool clean) const {
  return PartitionMeta{log_start_, flushed_, clean, /*sync_failed=*/failed_, compacted_end_,
                       delete_limit_ == Offset::max() ? committed_checkpoint_ : delete_limit_};
}

Status PartitionLog::persist_index_locked(
    bool clean, bool sync, std::vector<std::pair<Offset, SegmentSummary>> summaries) {
  IndexUpdate update = std::move(pending_index_);
  pending_index_ = {};
  update.summaries = std::move(summaries);
  update.meta = meta_locked(clean);
  if (epochs_dirty_) update.epochs = epochs_;
  Status written = index_.write(tp_, update, sync);
  if (written.ok()) {
    epochs_dirty_ = false;
    remember_written_entries_locked(update.offset_entries);
  } else {
    // Nothing was applied: the entries stay pending for the next write.
    pending_index_.offset_entries = std::move(update.offset_entries);
    pending_index_.time_entries = std::move(update.time_entries);
  }
  return written;
}

std::pair<Offset, SegmentSummary> PartitionLog::summary_entry(const Segment& segment) {
  return {segment.base_offset,
          SegmentSummary{segment.size_bytes, segment.next_offset, segment.max_timestamp_ms}};
}

Status PartitionLog::maybe_roll_locked(size_t incoming_bytes, int64_t now_ms) {
  const Segment& active = *segments_.rbegin()->second;
  if (active.empty()) return {};
  bool full = active.size_bytes + incoming_bytes > static_cast<uint64_t>(config_.segment_bytes);
  bool old = now_ms - active.created_ms >= config_.segment_ms;
  return (full || old) ? roll_locked() : Status();
}

Status PartitionLog::roll() {
  std::lock_guard lock(mutex_);
  return roll_locked();
}

void PartitionLog::zero_ahead_locked(Segment& active, uint64_t appended) {
  auto ahead = static_cast<uint64_t>(config_.preallocate_bytes);
  // Appends of a quarter of it or more (a backlog's full requests) would
  // overwrite the zeros before most syncs, which are then few and large, each
  // carrying its metadata commit over much data: zeros would only double
  // the writes.
  if (appended >= ahead / 4) return;
  // Topped up once a quarter is left: a write of zeros per 3/4 of it.
  if (active.zeroed_until >= active.size_bytes + ahead / 4) return;
  uint64_t until = std::min(active.size_bytes + ahead, static_cast<uint64_t>(config_.segment_bytes));
  if (until <= active.zeroed_until) return;
  // Only a speed-up: when it fails (a full disk), appends extend the file as
  // without it. Zeros it did write are cut with the rest at the roll.
  (void)active.file->zero_ahead(until);
  active.zeroed_until = until;
}

Status PartitionLog::cut_zeroed_tail_locked(Segment& segment) {
  if (segment.zeroed_until <= segment.size_bytes) return {};
  CAIRN_RETURN_IF_ERROR(segment.file->truncate(segment.size_bytes));
  segment.zeroed_until = segment.size_bytes;
  return {};
}

Status PartitionLog::roll_locked() {
  SegmentPtr active = segments_.rbegin()->second;
  if (active->empty()) return {};
  // A closed segment ends at its last batch. Its summary waits for a sync
  // that covers its batches (flush_now); should a power loss undo this cut,
  // the file no longer matches the summary and recovery scans it.
  CAIRN_RETURN_IF_ERROR(cut_zeroed_tail_locked(*active));
  CAIRN_RETURN_IF_ERROR(persist_index_locked(/*clean=*/false, /*sync=*/false));
  unsynced_.push_back(active);
  auto created = create_segment(log_end_);
  return created.status();
}

Result<PartitionLog::SegmentPtr> PartitionLog::create_segment(Offset base) {
  std::string path = dir_ + "/" + segment_file_name(base);
  auto file = env_.open_file(path, /*create=*/true);
  if (!file.ok()) return file.status();
  auto segment = std::make_shared<Segment>(base, path, std::shared_ptr<File>(std::move(*file)));
  segment->created_ms = clock_.now_ms();
  segment->max_timestamp_ms = running_max_ts_;
  segments_[base] = segment;
  dir_dirty_ = true;
  return segment;
}

PartitionLog::SegmentPtr PartitionLog::segment_for_locked(Offset offset) const {
  auto it = segments_.upper_bound(offset);
  if (it != segments_.begin()) --it;
  // Skip a segment that ends at or before `offset` (a gap left by a lost file).
  while (std::next(it) != segments_.end() && it->second->next_offset <= offset) ++it;
  return it->second;
}

Result<ScannedBatch> PartitionLog::batch_holding(const Segment& segment, uint64_t segment_size,
                                                 Offset offset, std::optional<OffsetEntry> entry) const {
  uint64_t start = 0;
  if (entry && entry->offset >= segment.base_offset && entry->position < segment_size) {
    start = entry->position;
  }
  // Entries are at most kIndexIntervalBytes apart: one read usually holds
  // every header up to the target.
  constexpr size_t kReadAhead = kIndexIntervalBytes + batch_format::kHeaderSize;
  for (int attempt = 0; attempt < 2; ++attempt) {
    BatchScanner scanner(*segment.file, start, segment_size, kReadAhead);
    bool first = true;
    while (true) {
      auto batch = scanner.next_header();
      if (!batch.ok() || !batch->has_value()) break;
      const BatchHeader& h = (*batch)->header;
      if (first && start != 0 && h.base_offset != entry->offset) break;  // stale entry
      first = false;
      if (h.next_offset() > offset) return **batch;
    }
    if (start == 0) break;
    spdlog::warn("partition {}: index entry for offset {} is stale; scanning {} from its start",
                 tp_, entry->offset, segment.path);
    start = 0;
  }
  return error(ErrorCode::storage_corrupt, "offset {} not found in segment {}", offset,
               segment.path);
}

Result<ReadResult> PartitionLog::read(Offset offset, size_t max_bytes, Offset max_offset,
                                      FirstBatch first) const {
  SegmentPtr segment;
  uint64_t segment_size = 0;
  Offset upper;
  std::optional<OffsetEntry> floor;
  {
    std::lock_guard lock(mutex_);
    if (offset < log_start_ || offset > log_end_) {
      return error(ErrorCode::offset_out_of_range,
                   "offset {} is outside the log of {} [{}, {})", offset, tp_, log_start_,
                   log_end_);
    }
    // After a failed sync, bytes past the flushed offset may never reach
    // the disk: they are not served.
    upper = std::min(max_offset, failed_ ? flushed_ : log_end_);
    if (offset >= upper) return ReadResult{"", offset};
    segment = segment_for_locked(offset);
    segment_size = segment->size_bytes;
    floor = floor_entry_locked(offset);
  }
  auto damaged = [&](Offset from, Status status) {
    if (status.code() != ErrorCode::storage_corrupt) return status;
    std::function<void(Offset)> listener;
    {
      std::lock_guard lock(mutex_);
      listener = damage_listener_;
    }
    if (listener) listener(from);
    return status;
  };
  auto holding = batch_holding(*segment, segment_size, offset, floor);
  if (!holding.ok()) {
    // Somewhere after the index entry the scan began at (a batch start).
    bool floor_usable = floor && floor->offset >= segment->base_offset;
    return damaged(floor_usable ? floor->offset : segment->base_offset, holding.status());
  }

  ReadResult result{"", offset};
  // Read ahead no further than the answer may reach (and one header more).
  size_t read_ahead = std::max(holding->header.size_bytes(),
                               std::min(max_bytes, BatchScanner::kDefaultReadAhead)) +
                      batch_format::kHeaderSize;
  BatchScanner scanner(*segment->file, holding->position, segment_size, read_ahead);
  while (true) {
    // Batches at or past `upper` are neither read nor verified: on a Raft
    // replica they may be truncated under this read, and would look damaged.
    auto next = scanner.peek_header();
    if (!next.ok() && !result.bytes.empty()) break;  // perhaps past upper: a read starting there tells
    if (next.ok() && (!next->has_value() || (*next)->base_offset >= upper)) break;
    auto batch = scanner.next(/*verify=*/true);
    if (!batch.ok()) {
      Offset bad_batch = result.bytes.empty() ? holding->header.base_offset : result.next_offset;
      return damaged(bad_batch, error(ErrorCode::storage_corrupt, "{}: {}", segment->path,
                                      batch.status().message()));
    }
    if (!batch->has_value()) break;
    const BatchHeader& h = (*batch)->header;
    if (h.base_offset >= upper) break;
    auto bytes = scanner.last_batch_bytes();
    bool may_overshoot = result.bytes.empty() && first == FirstBatch::always;
    if (!may_overshoot && result.bytes.size() + bytes.size() > max_bytes) break;
    result.bytes.append(as_chars(bytes));
    result.next_offset = h.next_offset();
  }
  return result;
}

Result<BatchHeader> PartitionLog::batch_header_at(Offset offset) const {
  SegmentPtr segment;
  uint64_t segment_size = 0;
  std::optional<OffsetEntry> floor;
  {
    std::lock_guard lock(mutex_);
    if (offset < log_start_ || offset >= log_end_) {
      return error(ErrorCode::offset_out_of_range, "offset {} is outside the log of {} [{}, {})",
                   offset, tp_, log_start_, log_end_);
    }
    segment = segment_for_locked(offset);
    segment_size = segment->size_bytes;
    floor = floor_entry_locked(offset);
  }
  auto holding = batch_holding(*segment, segment_size, offset, floor);
  if (!holding.ok()) return holding.status();
  if (holding->header.base_offset > offset) {
    return error(ErrorCode::offset_out_of_range, "no batch of {} holds offset {}", tp_, offset);
  }
  return holding->header;
}

Status PartitionLog::scan_headers(Offset from,
                                  const std::function<void(const BatchHeader&)>& visit) const {
  std::vector<std::pair<SegmentPtr, uint64_t>> segments;  // with their size when called
  {
    std::lock_guard lock(mutex_);
    for (const auto& [base, segment] : segments_) {
      if (segment->next_offset > from && !segment->empty()) segments.emplace_back(segment, segment->size_bytes);
    }
  }
  for (const auto& [segment, size] : segments) {
    BatchScanner scanner(*segment->file, 0, size, batch_format::kHeaderSize);
    while (true) {
      auto batch = scanner.next_header();
      if (!batch.ok()) return batch.status();
      if (!batch->has_value()) break;
      if ((*batch)->header.last_offset() >= from) visit((*batch)->header);
    }
  }
  return {};
}

Result<std::optional<Offset>> PartitionLog::offset_for_time(int64_t timestamp_ms) const {
  struct Snapshot {
    SegmentPtr segment;
    uint64_t size_bytes;
    Offset next_offset;
    int64_t max_timestamp_ms;
  };
  std::vector<Snapshot> segments;
  Offset start;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [base, s] : segments_) {
      if (!s->empty()) segments.push_back({s, s->size_bytes, s->next_offset, s->max_timestamp_ms});
    }
    start = log_start_;
    // Every batch before the newest entry below the target is older than it.
    if (auto entry = time_entry_before_locked(timestamp_ms)) start = std::max(start, entry->offset);
  }
  for (const auto& [segment, size, next_offset, max_timestamp_ms] : segments) {
    if (next_offset <= start || max_timestamp_ms < timestamp_ms) continue;
    Offset from = std::max(start, segment->base_offset);
    std::optional<OffsetEntry> floor;
    {
      std::lock_guard lock(mutex_);
      floor = floor_entry_locked(from);
    }
    auto holding = batch_holding(*segment, size, from, floor);
    if (!holding.ok()) return holding.status();
    BatchScanner scanner(*segment->file, holding->position, size);
    while (true) {
      auto batch = scanner.next(/*verify=*/true);
      if (!batch.ok()) return error(ErrorCode::storage_corrupt, "{}: {}", segment->path,
                                    batch.status().message());
      if (!batch->has_value()) break;
      if ((*batch)->header.max_timestamp_ms < timestamp_ms) continue;
      auto records = decode_batch(scanner.last_batch_bytes());
      if (!records.ok()) return records.status();
      for (const Record& r : *records) {
        if (r.offset >= from && r.timestamp_ms >= timestamp_ms) return std::optional<Offset>(r.offset);
      }
    }
  }
  return std::optional<Offset>();
}

Status PartitionLog::truncate_suffix(Offset offset) {
  std::lock_guard sync_lock(sync_mutex_);
  std::vector<SegmentPtr> removed;
  std::multimap<Offset, FlushCallback> orphaned;
  {
    std::lock_guard lock(mutex_);
    CAIRN_RETURN_IF_ERROR(truncate_locked(offset, removed));
    orphaned.insert(flush_waiters_.upper_bound(offset), flush_waiters_.end());
    flush_waiters_.erase(flush_waiters_.upper_bound(offset), flush_waiters_.end());
  }
  Status gone = error(ErrorCode::offset_out_of_range, "offsets from {} of {} were truncated",
                      offset, tp_);
  for (auto& [unused, callback] : orphaned) callback(gone);
  return delete_segment_files(removed);
}

Status PartitionLog::truncate_locked(Offset offset, std::vector<SegmentPtr>& removed) {
  if (offset < log_start_ || offset > log_end_) {
    return error(ErrorCode::offset_out_of_range, "cannot truncate {} at {}: log is [{}, {})", tp_,
                 offset, log_start_, log_end_);
  }
  if (offset == log_end_) return {};
  if (offset < compacted_end_) {
    // Replication truncates only above the commit point, and compaction
    // stays below it: this is a caller's mistake, refused.
    return error(ErrorCode::invalid_request,
                 "cannot truncate {} at {}: compaction rewrote the log below {}", tp_, offset,
                 compacted_end_);
  }
  SegmentPtr keep = segment_for_locked(offset);
  uint64_t cut = 0;
  if (keep->base_offset != offset) {
    // Only where a batch starts (above compacted_end_ batches are as
    // appended, without gaps).
    auto holding = batch_holding(*keep, keep->size_bytes, offset, floor_entry_locked(offset));
    if (!holding.ok()) return holding.status();
    if (holding->header.base_offset != offset) {
      return error(ErrorCode::invalid_request, "offset {} is not a batch boundary of {}", offset,
                   tp_);
    }
    cut = holding->position;
  }
  // From here memory and files change step by step: a step that fails
  // leaves them apart, so the log stops (no append or truncation on a log
  // whose end is not where its files end); recovery at the broker's next
  // start finishes the cut from the files.
  Status cut_off = [&]() -> Status {
    for (auto it = segments_.upper_bound(keep->base_offset); it != segments_.end();) {
      removed.push_back(it->second);
      it = segments_.erase(it);
    }
    std::erase_if(unsynced_, [&](const SegmentPtr& s) { return s->base_offset >= keep->base_offset; });
    CAIRN_RETURN_IF_ERROR(keep->file->truncate(cut));
    keep->zeroed_until = cut;
    CAIRN_RETURN_IF_ERROR(keep->file->sync());
    keep->size_bytes = cut;
    keep->next_offset = offset;
    keep->bytes_since_index_entry = kIndexIntervalBytes;  // index the next batch
    CAIRN_RETURN_IF_ERROR(index_.delete_summary(tp_, keep->base_offset));
    CAIRN_RETURN_IF_ERROR(index_.delete_entries_from(tp_, offset));
    std::erase_if(pending_index_.offset_entries, [&](const OffsetEntry& e) { return e.offset >= offset; });
    std::erase_if(recent_offset_entries_, [&](const OffsetEntry& e) { return e.offset >= offset; });
    std::erase_if(pending_index_.time_entries, [&](const TimeEntry& e) { return e.offset >= offset; });
    drop_epochs_from_locked(offset);
    auto running = last_time_entry_below_locked(offset);
    running_max_ts_ = running ? running->timestamp_ms : INT64_MIN;
    keep->max_timestamp_ms = running_max_ts_;
    log_end_ = offset;
    flushed_ = std::min(flushed_, offset);
    unflushed_bytes_ = 0;
    ++truncations_;
    return persist_index_locked(/*clean=*/false, /*sync=*/true);
  }();
  if (!cut_off.ok() && !failed_) {
    failed_ = closed_ = true;
    failed_status_ = error(ErrorCode::io_error, "partition {} stopped in a truncation at {}: {}", tp_, offset,
                           cut_off.message());
    spdlog::error("{}", failed_status_.message());
  }
  return cut_off.ok() ? cut_off : failed_status_;
}

void PartitionLog::set_owner_guard(OwnerGuard guard) {
  std::lock_guard start(start_mutex_);
  owner_guard_ = std::move(guard);
}

Status PartitionLog::advance_start(Offset offset) {
  std::lock_guard start(start_mutex_);
  auto owner = owner_guard_ ? owner_guard_() : nullptr;
  std::vector<SegmentPtr> removed;
  Offset first_kept;
  {
    std::lock_guard lock(mutex_);
    if (offset > log_end_) {
      return error(ErrorCode::offset_out_of_range, "cannot start {} at {}: log ends at {}", tp_,
                   offset, log_end_);
    }
    if (offset > deletable_end_locked()) {
      return error(ErrorCode::offset_out_of_range,
                   "cannot start {} at {}: only records below {} ({}) may be deleted", tp_,
                   offset, deletable_end_locked(),
                   delete_limit_ < flushed_ ? "the committed offset" : "the flushed offset");
    }
    if (offset <= log_start_) return {};
    // Durable beside the segments before anything is deleted: an index
    // rebuilt from them could not tell a start inside a segment.
    CAIRN_RETURN_IF_ERROR(write_log_bounds(env_, dir_, LogBounds{offset, compacted_end_, std::nullopt}));
    log_start_ = offset;
    trim_epochs_below_start_locked();
    while (segments_.size() > 1 && segments_.begin()->second->next_offset <= offset) {
      removed.push_back(segments_.begin()->second);
      segments_.erase(segments_.begin());
    }
    first_kept = segments_.begin()->first;
    forget_recent_entries_below_locked(first_kept);
    CAIRN_RETURN_IF_ERROR(persist_index_locked(/*clean=*/false, /*sync=*/true));
  }
  owner.reset();  // the owner's reads no longer reach what goes below
  CAIRN_RETURN_IF_ERROR(index_.delete_entries_below(tp_, first_kept));
  return delete_segment_files(removed);
}

void PartitionLog::set_delete_limit(Offset end) {
  std::lock_guard lock(mutex_);
  delete_limit_ = end;
}

Status PartitionLog::reset(Offset start, Term base_term) {
  std::lock_guard sync_lock(sync_mutex_);
  std::vector<SegmentPtr> removed;
  std::multimap<Offset, FlushCallback> orphaned;
  Status outcome;
  {
    std::lock_guard lock(mutex_);
    if (failed_) return failed_status_;
    if (closed_) return error(ErrorCode::shutting_down, "partition {} is closed", tp_);
    if (start < log_start_) {
      return error(ErrorCode::invalid_request, "cannot restart {} at {}: it starts at {}", tp_,
                   start, log_start_);
    }
    // First every record at or past `start` goes, as a durable truncation,
    // and with it every segment file based above `start`: then each segment
    // left has a base below `start` (or is the empty one at it), which is
    // how recovery tells the old log from the restarted one.
    auto from = segments_.lower_bound(start);
    if (from != segments_.end() && from->first < log_end_) {
      CAIRN_RETURN_IF_ERROR(truncate_locked(from->first, removed));
    }
    while (segments_.rbegin()->first > start) {
      removed.push_back(segments_.rbegin()->second);
      segments_.erase(std::prev(segments_.end()));
    }
    CAIRN_RETURN_IF_ERROR(delete_segment_files(removed));
    removed.clear();
    // The commit point: from here on, recovery completes the reset.
    CAIRN_RETURN_IF_ERROR(write_log_bounds(env_, dir_, LogBounds{start, start, base_term}));
    outcome = restart_locked(start, base_term, removed);
    orphaned = std::move(flush_waiters_);
    flush_waiters_.clear();
    if (!outcome.ok()) {
      // Half done in memory: stop; reopening the partition finishes the reset.
      failed_ = closed_ = true;
      failed_status_ = error(ErrorCode::io_error, "partition {} stopped in a reset: {}", tp_,
                             outcome.message());
      outcome = failed_status_;
    }
  }
  Status gone = outcome.ok() ? error(ErrorCode::offset_out_of_range, "{} restarted at {}", tp_, start)
                             : outcome;
  for (auto& [unused, callback] : orphaned) callback(gone);
  CAIRN_RETURN_IF_ERROR(outcome);
  CAIRN_RETURN_IF_ERROR(delete_segment_files(removed));
  return env_.sync_dir(dir_);  // the restarted segment's name
}

Status PartitionLog::restart_locked(Offset start, Term base_term,
                                    std::vector<SegmentPtr>& removed) {
  // Nothing of the old log's timestamps carries over (time entries must
  // rise with offsets from the restart on).
  running_max_ts_ = INT64_MIN;
  // The restarted log's segment exists before the old ones leave the map,
  // which is never empty.
  if (segments_.rbegin()->first != start || !segments_.rbegin()->second->empty()) {
    auto created = create_segment(start);
    if (!created.ok()) return created.status();
  }
  segments_.rbegin()->second->max_timestamp_ms = running_max_ts_;
  while (segments_.begin()->first < start) {
    removed.push_back(segments_.begin()->second);
    segments_.erase(segments_.begin());
  }
  unsynced_.clear();
  pending_index_ = {};
  recent_offset_entries_.clear();
  log_start_ = log_end_ = flushed_ = compacted_end_ = start;
  unflushed_bytes_ = 0;
  ++truncations_;
  epochs_.clear();  // a segment that straddled `start` left terms above it
  set_base_epoch_locked(start, base_term);
  // No offset or time entry survives: not those a segment straddling
  // `start` left above it, nor the running-max entry that deleting below an
  // offset keeps (the restarted log's timestamps may be lower, and time
  // entries must rise with offsets). The synced write below makes the
  // deletes durable too.
  CAIRN_RETURN_IF_ERROR(index_.delete_entries_from(tp_, Offset(0)));
  return persist_index_locked(/*clean=*/false, /*sync=*/true);
}

Result<size_t> PartitionLog::apply_retention() {
  std::lock_guard start(start_mutex_);
  auto owner = owner_guard_ ? owner_guard_() : nullptr;
  std::vector<SegmentPtr> removed;
  Offset first_kept;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return size_t{0};
    int64_t now_ms = clock_.now_ms();
    uint64_t total = 0;
    for (const auto& [base, segment] : segments_) total += segment->size_bytes;
    // Only a prefix of closed segments goes; the active segment always stays.
    while (segments_.size() > 1) {
      const Segment& oldest = *segments_.begin()->second;
      // A compact-only topic keeps every key's newest record however old.
      bool deleting = deletes(config_.cleanup_policy);
      bool expired = deleting && config_.retention_ms >= 0 &&
                     oldest.max_timestamp_ms < now_ms - config_.retention_ms;
      bool oversized = deleting && config_.retention_bytes >= 0 &&
                       total - oldest.size_bytes >= static_cast<uint64_t>(config_.retention_bytes);
      bool below_start = oldest.next_offset <= log_start_;
      if (!expired && !oversized && !below_start) break;
      // Not flushed is no bar alone (the records are old or over the size
      // anyway), but a replica's uncommitted tail is, and a replica keeps
      // its log start at or below its flushed offset (Raft's log contract).
      Offset limit = delete_limit_ == Offset::max() ? delete_limit_ : deletable_end_locked();
      if (!below_start && oldest.next_offset > limit) break;
      total -= oldest.size_bytes;
      removed.push_back(segments_.begin()->second);
      segments_.erase(segments_.begin());
    }
    if (removed.empty()) return size_t{0};
    first_kept = segments_.begin()->first;
    forget_recent_entries_below_locked(first_kept);
    log_start_ = std::max(log_start_, first_kept);
    trim_epochs_below_start_locked();
    std::erase_if(unsynced_, [&](const SegmentPtr& s) { return s->base_offset < first_kept; });
    CAIRN_RETURN_IF_ERROR(persist_index_locked(/*clean=*/false, /*sync=*/true));
  }
  owner.reset();  // the owner's reads no longer reach what goes below
  spdlog::info("partition {}: retention deleted {} segment(s); log now starts at {}", tp_,
               removed.size(), first_kept);
  CAIRN_RETURN_IF_ERROR(index_.delete_entries_below(tp_, first_kept));
  CAIRN_RETURN_IF_ERROR(delete_segment_files(removed));
  return removed.size();
}

Status PartitionLog::delete_segment_files(const std::vector<SegmentPtr>& segments) {
  for (const auto& segment : segments) {
    CAIRN_RETURN_IF_ERROR(index_.delete_summary(tp_, segment->base_offset));
    CAIRN_RETURN_IF_ERROR(env_.remove_file(segment->path));
  }
  return segments.empty() ? Status() : env_.sync_dir(dir_);
}

Status PartitionLog::flush_now() {
  std::lock_guard sync_lock(sync_mutex_);
  Offset target;
  uint64_t truncations = 0;
  uint64_t bytes = 0;
  bool sync_dir = false;
  // Each segment with its size when the sync began: all a sync can cover.
  std::vector<std::pair<SegmentPtr, uint64_t>> to_sync;
  {
    std::lock_guard lock(mutex_);
    if (failed_) return failed_status_;
    target = log_end_;
    truncations = truncations_;
    bytes = unflushed_bytes_;
    sync_dir = dir_dirty_;
    for (const auto& segment : unsynced_) to_sync.emplace_back(segment, segment->size_bytes);
    const SegmentPtr& active = segments_.rbegin()->second;
    to_sync.emplace_back(active, active->size_bytes);
    if (target == flushed_ && !sync_dir && unsynced_.empty()) return {};
    dir_dirty_ = false;
  }
  Status status = sync_dir ? env_.sync_dir(dir_) : Status();
  for (const auto& [segment, size] : to_sync) {
    if (status.ok()) status = segment->file->sync();
  }
  std::vector<FlushCallback> done;
  {
    std::lock_guard lock(mutex_);
    if (!status.ok()) {
      // After a failed fsync the kernel may have dropped the dirty pages, and
      // a retried fsync can falsely succeed: refuse to go on. Reopening the
      // partition recovers the durable prefix.
      failed_ = true;
      failed_status_ = error(ErrorCode::io_error, "partition {} stopped after a failed sync: {}",
                             tp_, status.message());
      closed_ = true;
      spdlog::error("{}", failed_status_.message());
      // Durably, so that a restart does not trust the page cache either.
      Status marked = persist_index_locked(/*clean=*/false, /*sync=*/true);
      if (!marked.ok()) {
        spdlog::error("partition {}: cannot record the failed sync ({}); a restart may serve "
                      "offsets from {} that never reached the disk",
                      tp_, marked.to_string(), flushed_);
      }
      for (auto& [unused, callback] : flush_waiters_) done.push_back(std::move(callback));
      flush_waiters_.clear();
    } else if (truncations == truncations_) {
      flushed_ = std::max(flushed_, target);
      unflushed_bytes_ -= std::min(unflushed_bytes_, bytes);
      first_unflushed_ms_ = clock_.now_ms();
      // A segment rolled while the sync ran was synced only up to its size
      // then: it stays for the next sync, which covers the rest.
      std::vector<std::pair<Offset, SegmentSummary>> summaries;
      std::erase_if(unsynced_, [&](const SegmentPtr& s) {
        auto synced = std::find_if(to_sync.begin(), to_sync.end(),
                                   [&](const auto& entry) { return entry.first == s; });
        bool covered = synced != to_sync.end() && synced->second >= s->size_bytes;
        if (covered) summaries.push_back(summary_entry(*s));
        return covered;
      });
      auto end = flush_waiters_.upper_bound(flushed_);
      for (auto it = flush_waiters_.begin(); it != end; ++it) done.push_back(std::move(it->second));
      flush_waiters_.erase(flush_waiters_.begin(), end);
      Status meta = persist_index_locked(/*clean=*/false, /*sync=*/false, std::move(summaries));
      if (!meta.ok()) spdlog::warn("partition {}: {}", tp_, meta.to_string());
    }
  }
  Status outcome = status.ok() ? Status() : failed_status_;
  for (auto& callback : done) callback(outcome);
  if (status.ok() && flushed_listener_) flushed_listener_(target);
  return outcome;
}

void PartitionLog::when_flushed(Offset offset_end, FlushCallback done) {
  {
    std::unique_lock lock(mutex_);
    if (failed_) {
      Status status = failed_status_;
      lock.unlock();
      done(status);
      return;
    }
    if (offset_end > flushed_) {
      flush_waiters_.emplace(offset_end, std::move(done));
      return;
    }
  }
  done(Status());
}

bool PartitionLog::flush_due() const {
  std::lock_guard lock(mutex_);
  if (failed_ || (log_end_ == flushed_ && unsynced_.empty())) return false;
  if (config_.flush_policy == FlushPolicy::on_append) return true;
  return unflushed_bytes_ >= static_cast<uint64_t>(config_.flush_bytes) ||
         clock_.now_ms() - first_unflushed_ms_ >= config_.flush_ms;
}

Status PartitionLog::close() {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return failed_ ? failed_status_ : Status();
    closed_ = true;  // no append from here on, so the sync below covers all
  }
  CAIRN_RETURN_IF_ERROR(flush_now());
  std::lock_guard sync_lock(sync_mutex_);
  std::lock_guard lock(mutex_);
  CAIRN_ASSERT(unsynced_.empty() && flushed_ == log_end_);
  // The file on disk ends where the log does, as the clean mark says: the
  // next open trusts the summary instead of scanning.
  Segment& active = *segments_.rbegin()->second;
  if (active.zeroed_until > active.size_bytes) {
    CAIRN_RETURN_IF_ERROR(cut_zeroed_tail_locked(active));
    CAIRN_RETURN_IF_ERROR(active.file->sync());
  }
  return persist_index_locked(/*clean=*/true, /*sync=*/true, {summary_entry(active)});
}

bool PartitionLog::stopped() const {
  std::lock_guard lock(mutex_);
  return closed_ || failed_;
}

Offset PartitionLog::log_start() const {
  std::lock_guard lock(mutex_);
  return log_start_;
}

Offset PartitionLog::log_end() const {
  std::lock_guard lock(mutex_);
  return log_end_;
}

Offset PartitionLog::compacted_end() const {
  std::lock_guard lock(mutex_);
  return compacted_end_;
}

Offset PartitionLog::flushed() const {
  std::lock_guard lock(mutex_);
  return flushed_;
}

Offset PartitionLog::stable_end() const {
  std::lock_guard lock(mutex_);
  // What was committed when the log opened stays so, even before a
  // restarted replica's delete limit has caught up with it again.
  return std::min(flushed_, std::max(delete_limit_, committed_checkpoint_));
}

uint64_t PartitionLog::size_bytes() const {
  std::lock_guard lock(mutex_);
  uint64_t total = 0;
  for (const auto& [base, segment] : segments_) total += segment->size_bytes;
  return total;
}

size_t PartitionLog::segment_count() const {
  std::lock_guard lock(mutex_);
  return segments_.size();
}

LogConfig PartitionLog::config() const {
  std::lock_guard lock(mutex_);
  return config_;
}

void PartitionLog::set_config(LogConfig config) {
  std::lock_guard lock(mutex_);
  config_ = config;
}

}  // namespace cairn::storage
