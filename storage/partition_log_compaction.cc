// Compacting a partition log: clean its closed segments one by one into
// temporary files, without the log's mutex, and swap each in under it.
//
// Swap protocol (docs/storage.md, "Compaction"), for a segment S:
// 1. write the kept batches to "S.cleaned" and fsync it;
// 2. under the mutex, if the log still holds S and has not been truncated
//    since the plan: rename "S.cleaned" over S (atomic: S names the old or the
//    new file at every instant, and both end at the same next offset), point
//    the log at the new file, and replace S's offset entries and summary in
//    one RocksDB write;
// 3. after all swaps, fsync the folder.
// A crash before 2 leaves a "S.cleaned" that recovery deletes. A crash after
// 2 but before 3 may bring back either file: the summary's size then matches
// only the file it was written for (the cleaned file is always smaller), so
// recovery scans the other and rebuilds its entries. Readers that found S
// before the swap keep its File, whose old bytes stay readable.

#include <spdlog/spdlog.h>

#include "storage/partition_log.h"

#include "storage/log_bounds_file.h"

namespace cairn::storage {

struct PartitionLog::CompactionPlan {
  struct Entry {
    SegmentPtr segment;
    uint64_t size_bytes = 0;
    Offset next_offset;
    int64_t max_timestamp_ms = 0;
  };
  // Every non-empty segment wholly below the deletable end (flushed and,
  // on a replica, committed), oldest first, as it was when planned; the keys
  // of all of them decide what is newest. A newer record that a power loss
  // or a new leader could still take back must not make an older one go.
  std::vector<Entry> segments;
  // The first `cleanable` of them are closed.
  size_t cleanable = 0;
  uint64_t truncations = 0;
  // Tombstones go from segments whose newest timestamp is older than this.
  int64_t tombstone_horizon_ms = 0;
};

PartitionLog::CompactionPlan PartitionLog::plan_compaction() const {
  std::lock_guard lock(mutex_);
  CompactionPlan plan;
  if (closed_) return plan;
  Offset deletable = deletable_end_locked();
  for (const auto& [base, segment] : segments_) {
    if (segment->empty()) continue;
    if (segment->next_offset > deletable) break;
    plan.segments.push_back(
        {segment, segment->size_bytes, segment->next_offset, segment->max_timestamp_ms});
    bool active = segment == segments_.rbegin()->second;
    if (!active && plan.cleanable + 1 == plan.segments.size()) ++plan.cleanable;
  }
  plan.truncations = truncations_;
  plan.tombstone_horizon_ms = clock_.now_ms() - config_.delete_retention_ms;
  return plan;
}

Result<CompactionResult> PartitionLog::compact() {
  std::lock_guard compact_lock(compact_mutex_);
  CompactionPlan plan = plan_compaction();
  CompactionResult result;
  if (plan.cleanable == 0) return result;
  KeyIndex keys;
  for (const auto& entry : plan.segments) {
    CAIRN_RETURN_IF_ERROR(keys.add_segment(*entry.segment->file, entry.segment->path,
                                           entry.size_bytes));
  }
  // Oldest first: older records of a key go before its tombstone can.
  for (size_t i = 0; i < plan.cleanable; ++i) {
    auto current = clean_and_swap(plan, i, keys, result);
    if (!current.ok()) return current.status();
    if (!*current) break;
  }
  if (result.segments_cleaned == 0) return result;
  CAIRN_RETURN_IF_ERROR(env_.sync_dir(dir_));
  spdlog::info("partition {}: compaction cleaned {} segment(s), removed {} record(s), {} -> {} bytes",
               tp_, result.segments_cleaned, result.records_removed, result.bytes_before,
               result.bytes_after);
  return result;
}

Result<bool> PartitionLog::clean_and_swap(const CompactionPlan& plan, size_t index,
                                          const KeyIndex& keys, CompactionResult& result) {
  const CompactionPlan::Entry& entry = plan.segments[index];
  const std::string temp = cleaned_file_path(entry.segment->path);
  CAIRN_RETURN_IF_ERROR(env_.remove_file(temp));  // left by a failed pass
  auto out = env_.open_file(temp, /*create=*/true);
  if (!out.ok()) return out.status();
  std::shared_ptr<File> file = std::move(*out);
  CleanRules rules{&keys, entry.next_offset - 1,
                   entry.max_timestamp_ms < plan.tombstone_horizon_ms};
  auto cleaned = clean_segment(*entry.segment->file, entry.segment->path, entry.size_bytes, rules,
                               *file);
  Status synced = cleaned.ok() ? file->sync() : cleaned.status();
  bool swapped = false;
  Result<bool> current = true;
  if (synced.ok() && cleaned->records_removed > 0) {
    current = swap_in_cleaned(plan, index, file, *cleaned);
    swapped = current.ok() && *current;
  }
  if (!swapped) {
    // Nothing to gain, a failure, or a stale plan: the segment stays as it is.
    CAIRN_RETURN_IF_ERROR(env_.remove_file(temp));
    CAIRN_RETURN_IF_ERROR(synced);
    return current;
  }
  ++result.segments_cleaned;
  result.records_removed += cleaned->records_removed;
  result.bytes_before += entry.size_bytes;
  result.bytes_after += cleaned->size_bytes;
  return true;
}

Result<bool> PartitionLog::swap_in_cleaned(const CompactionPlan& plan, size_t index,
                                           std::shared_ptr<File> file,
                                           const CleanedSegment& cleaned) {
  const CompactionPlan::Entry& entry = plan.segments[index];
  const SegmentPtr& old = entry.segment;
  std::lock_guard lock(mutex_);
  // A truncation may have removed the records that made others obsolete.
  if (closed_ || truncations_ != plan.truncations) return false;
  auto it = segments_.find(old->base_offset);
  // Retention or advance_start removed it: nothing to swap, the pass goes on.
  if (it == segments_.end() || it->second != old) return true;
  // The cleaned segment may have offset gaps, which the log must never be
  // truncated into: compacted_end says where they end, durably before the
  // cleaned file can survive a crash (and beside the segments, so a rebuilt
  // index does not lose it).
  Offset compacted_end = std::max(compacted_end_, old->next_offset);
  if (compacted_end > compacted_end_) {
    CAIRN_RETURN_IF_ERROR(write_log_bounds(env_, dir_, LogBounds{log_start_, compacted_end, std::nullopt}));
  }
  CAIRN_RETURN_IF_ERROR(env_.rename_file(cleaned_file_path(old->path), old->path));
  // The summary below describes the cleaned file: its name must be durable
  // first, or a power loss could pair it with the old file.
  CAIRN_RETURN_IF_ERROR(env_.sync_dir(dir_));
  auto segment = std::make_shared<Segment>(old->base_offset, old->path, std::move(file));
  segment->next_offset = old->next_offset;
  segment->max_timestamp_ms = old->max_timestamp_ms;
  segment->created_ms = old->created_ms;
  segment->size_bytes = cleaned.size_bytes;
  it->second = segment;
  // The cleaned file was synced before the rename; the old one needs no more.
  std::erase(unsynced_, old);
  // The cleaned segment's entries replace the old ones: the recent entries
  // stay a suffix of the index only from its end on.
  forget_recent_entries_below_locked(old->next_offset);
  IndexUpdate update;
  update.cleared_offsets = std::pair(old->base_offset, old->next_offset);
  update.offset_entries = cleaned.offset_entries;
  update.summaries.push_back(summary_entry(*segment));
  compacted_end_ = compacted_end;
  update.meta = meta_locked(/*clean=*/false);
  CAIRN_RETURN_IF_ERROR(index_.write(tp_, update, /*sync=*/true));
  return true;
}

}  // namespace cairn::storage
