// Opening a partition log: find the segments, trust what the index proves,
// verify the rest batch by batch, and cut the log at the first bad byte.

#include <algorithm>

#include <spdlog/spdlog.h>

#include "storage/batch_scanner.h"
#include "storage/log_bounds_file.h"
#include "storage/partition_log.h"

namespace cairn::storage {


Result<std::unique_ptr<PartitionLog>> PartitionLog::open(Env& env, Clock& clock, IndexStore& index,
                                                         TopicPartition tp, std::string dir,
                                                         LogConfig config) {
  std::unique_ptr<PartitionLog> log(
      new PartitionLog(env, clock, index, std::move(tp), std::move(dir), config));
  CAIRN_RETURN_IF_ERROR(log->recover());
  return log;
}

Status PartitionLog::recover() {
  std::lock_guard lock(mutex_);
  CAIRN_RETURN_IF_ERROR(env_.create_dirs(dir_));
  auto names = env_.list_dir(dir_);
  if (!names.ok()) return names.status();
  CAIRN_RETURN_IF_ERROR(remove_cleaned_leftovers(*names));
  for (const auto& name : *names) {
    auto base = parse_segment_file_name(name);
    if (!base) continue;
    auto file = env_.open_file(dir_ + "/" + name, /*create=*/false);
    if (!file.ok()) return file.status();
    auto segment = std::make_shared<Segment>(*base, dir_ + "/" + name,
                                             std::shared_ptr<File>(std::move(*file)));
    segment->size_bytes = segment->file->size();
    segments_[*base] = segment;
  }
  recovery_.segments = segments_.size();
  auto meta = index_.meta(tp_);
  if (meta) compacted_end_ = meta->compacted_end;
  if (meta) committed_checkpoint_ = meta->committed_end;
  epochs_ = index_.epochs(tp_);
  log_start_ = meta ? meta->log_start : (segments_.empty() ? Offset(0) : segments_.begin()->first);
  // The bounds file keeps what a lost or rebuilt index cannot give back.
  auto bounds = read_log_bounds(env_, dir_);
  if (!bounds.ok()) return bounds.status();
  if (*bounds) {
    log_start_ = std::max(log_start_, (*bounds)->log_start);
    compacted_end_ = std::max(compacted_end_, (*bounds)->compacted_end);
    if ((*bounds)->restart_term) {
      Offset restart = (*bounds)->log_start;
      // Interrupted before its index write: the metadata is the old log's,
      // whose flushed offset says nothing of the restarted one.
      if (meta && !segments_.empty() && segments_.begin()->first < restart) {
        meta->flushed = std::min(meta->flushed, restart);
      }
      CAIRN_RETURN_IF_ERROR(finish_reset(restart, *(*bounds)->restart_term));
    }
  }

  if (segments_.empty()) {
    auto created = create_segment(log_start_);
    if (!created.ok()) return created.status();
    log_end_ = flushed_ = log_start_;
  } else {
    CAIRN_RETURN_IF_ERROR(verify_segments(meta));
  }

  log_start_ = std::clamp(log_start_, segments_.begin()->first, log_end_);
  // A restart mark is dropped here: finish_reset has done its work.
  bool bounds_current = *bounds && **bounds == LogBounds{log_start_, compacted_end_, std::nullopt};
  // Also rewritten when a power loss took records below the start it holds.
  bool bounds_needed = log_start_ > segments_.begin()->first || compacted_end_ > Offset(0);
  if ((bounds_needed || *bounds) && !bounds_current) {
    CAIRN_RETURN_IF_ERROR(write_log_bounds(env_, dir_, LogBounds{log_start_, compacted_end_, std::nullopt}));
  }
  if (meta && meta->sync_failed && meta->flushed < log_end_) {
    // The page cache may still hold bytes whose sync failed: valid-looking,
    // yet perhaps never on disk. Only what a sync covered is kept.
    spdlog::error("partition {}: a sync failed before the restart; dropping offsets [{}, {}) "
                  "that may never have reached the disk",
                  tp_, meta->flushed, log_end_);
    std::vector<SegmentPtr> removed;
    CAIRN_RETURN_IF_ERROR(truncate_locked(std::max(meta->flushed, log_start_), removed));
    CAIRN_RETURN_IF_ERROR(delete_segment_files(removed));
  }
  std::vector<SegmentPtr> below_start;
  while (segments_.size() > 1 && segments_.begin()->second->next_offset <= log_start_) {
    below_start.push_back(segments_.begin()->second);
    segments_.erase(segments_.begin());
  }
  CAIRN_RETURN_IF_ERROR(delete_segment_files(below_start));
  drop_epochs_from_locked(log_end_);
  trim_epochs_below_start_locked();

  // Every segment kept was synced when it was verified (or proven synced by
  // its summary); their names must be durable too before the flushed offset
  // says so.
  segments_.rbegin()->second->created_ms = clock_.now_ms();
  CAIRN_RETURN_IF_ERROR(env_.sync_dir(dir_));
  dir_dirty_ = false;
  flushed_ = log_end_;
  CAIRN_RETURN_IF_ERROR(persist_index_locked(/*clean=*/false, /*sync=*/true));

  if (!recovery_.truncation_reason.empty()) {
    spdlog::warn("partition {}: recovery cut {} byte(s) and {} segment(s): {}", tp_,
                 recovery_.bytes_truncated, recovery_.segments_dropped,
                 recovery_.truncation_reason);
  }
  return {};
}

Status PartitionLog::finish_reset(Offset restart, Term restart_term) {
  std::vector<SegmentPtr> stale;
  while (!segments_.empty() && segments_.begin()->first < restart) {
    stale.push_back(segments_.begin()->second);
    segments_.erase(segments_.begin());
  }
  set_base_epoch_locked(restart, restart_term);
  if (!stale.empty()) {
    // The reset deletes the index entries before the old segments, and
    // nothing is appended until it is done: every entry is from before it.
    spdlog::info("partition {}: finishing a restart at offset {} that a crash interrupted", tp_,
                 restart);
    CAIRN_RETURN_IF_ERROR(index_.delete_entries_from(tp_, Offset(0)));
  }
  return delete_segment_files(stale);
}

Status PartitionLog::remove_cleaned_leftovers(const std::vector<std::string>& names) {
  // A compaction that crashed before its rename: the segment it was cleaning
  // is intact, the half-built copy is worthless.
  for (const auto& name : names) {
    if (is_cleaned_file_name(name)) CAIRN_RETURN_IF_ERROR(env_.remove_file(dir_ + "/" + name));
  }
  return {};
}

Status PartitionLog::verify_segments(const std::optional<PartitionMeta>& meta) {
  // Closed segments whose summary matches the file need no scan: a summary
  // is written after all the segment's index entries, and only once a sync
  // covered the segment's final size.
  auto it = segments_.begin();
  Offset expected = it->first;
  int64_t running_max_ts = INT64_MIN;
  for (; std::next(it) != segments_.end(); ++it) {
    Segment& segment = *it->second;
    auto summary = index_.summary(tp_, segment.base_offset);
    if (!summary || summary->size_bytes != segment.size_bytes || segment.base_offset != expected) {
      break;
    }
    segment.next_offset = summary->next_offset;
    segment.max_timestamp_ms = running_max_ts = summary->max_timestamp_ms;
    expected = summary->next_offset;
  }

  Segment& first_unproven = *it->second;
  bool only_active_left = std::next(it) == segments_.end();
  if (only_active_left && meta && meta->clean_shutdown) {
    auto summary = index_.summary(tp_, first_unproven.base_offset);
    if (summary && summary->size_bytes == first_unproven.size_bytes) {
      first_unproven.next_offset = summary->next_offset;
      first_unproven.max_timestamp_ms = running_max_ts_ = summary->max_timestamp_ms;
      first_unproven.bytes_since_index_entry = kIndexIntervalBytes;
      log_end_ = summary->next_offset;
      recovery_.scan_skipped = true;
      return index_.delete_summary(tp_, first_unproven.base_offset);
    }
  }

  // Where the scan starts: the segment's start, or, in the active segment, the
  // index entry at or below the flushed offset (everything before it was
  // verified when it was flushed).
  uint64_t from_position = 0;
  Offset from_offset = first_unproven.base_offset;
  if (only_active_left && meta && meta->flushed > first_unproven.base_offset) {
    auto entry = index_.floor_offset_entry(tp_, meta->flushed);
    if (entry && entry->offset >= first_unproven.base_offset &&
        entry->position <= first_unproven.size_bytes) {
      from_position = entry->position;
      from_offset = entry->offset;
    }
  }
  // The running max below the scan also covers segments that retention or
  // advance_start removed: their newest time entry is kept for this.
  if (auto running = index_.last_time_entry_below(tp_, from_offset)) {
    running_max_ts = std::max(running_max_ts, running->timestamp_ms);
  }
  CAIRN_RETURN_IF_ERROR(index_.delete_entries_from(tp_, from_offset));
  drop_epochs_from_locked(from_offset);  // the scan re-derives them
  running_max_ts_ = running_max_ts;

  // Everything below it was acknowledged as durable: losing any of it is
  // data loss, never a tail to cut quietly.
  const Offset durable_end = meta ? meta->flushed : Offset(0);
  bool intact = true;
  for (; it != segments_.end() && intact; ++it) {
    SegmentPtr segment = it->second;
    bool is_active = std::next(it) == segments_.end();
    // Compaction leaves gaps between batches of closed segments; an active
    // segment has them only if a truncation made a compacted one active
    // again, which can happen only on a compacted topic. Elsewhere a gap is
    // damage (the base offset is outside the CRC).
    bool allow_gaps = !is_active || compacts(config_.cleanup_policy);
    CAIRN_RETURN_IF_ERROR(
        scan_segment(segment, from_position, from_offset, allow_gaps, &intact));
    // What was verified may sit only in the page cache (a process crash):
    // sync it before a summary or the flushed offset vouches for it.
    CAIRN_RETURN_IF_ERROR(segment->file->sync());
    from_position = 0;
    if (is_active) {
      if (segment->next_offset < durable_end) report_loss(*segment, durable_end, durable_end);
      continue;
    }
    Offset next_base = std::next(it)->first;
    if (intact && next_base != segment->next_offset) {
      // A segment that lost its tail at a batch boundary.
      intact = false;
      recovery_.truncation_reason =
          fmt::format("{} ends at offset {} but the next segment starts at {}", segment->path,
                      segment->next_offset, next_base);
    }
    if (!intact && segment->next_offset < durable_end && next_base > segment->next_offset) {
      // Acknowledged records are gone; the segments after them are not
      // deleted too but kept behind a hole, as compaction leaves.
      report_loss(*segment, std::min(next_base, durable_end), durable_end);
      intact = true;
    }
    if (intact) {
      CAIRN_RETURN_IF_ERROR(persist_index_locked(/*clean=*/false, /*sync=*/false,
                                                 {summary_entry(*segment)}));
    }
    from_offset = next_base;
  }
  if (!intact && it != segments_.end()) {
    std::vector<SegmentPtr> dropped;
    for (auto drop = it; drop != segments_.end(); ++drop) dropped.push_back(drop->second);
    segments_.erase(it, segments_.end());
    recovery_.segments_dropped = dropped.size();
    CAIRN_RETURN_IF_ERROR(delete_segment_files(dropped));
    CAIRN_RETURN_IF_ERROR(index_.delete_summary(tp_, segments_.rbegin()->first));
  }
  log_end_ = segments_.rbegin()->second->next_offset;
  return {};
}

void PartitionLog::report_loss(const Segment& segment, Offset lost_end, Offset durable_end) {
  recovery_.lost.emplace_back(segment.next_offset, lost_end);
  spdlog::error(
      "partition {}: DATA LOSS: offsets [{}, {}) were acknowledged as durable (flushed up to {}) "
      "but are missing: {}; the log keeps what follows",
      tp_, segment.next_offset, lost_end, durable_end,
      recovery_.truncation_reason.empty() ? segment.path + " is short" : recovery_.truncation_reason);
}

Status PartitionLog::scan_segment(const SegmentPtr& segment, uint64_t from_position,
                                  Offset from_offset, bool allow_gaps, bool* intact) {
  uint64_t file_size = segment->file->size();
  segment->size_bytes = from_position;
  segment->next_offset = from_offset;
  // A scan from an index entry re-creates that entry; one from the start
  // begins a fresh interval, as appends do.
  segment->bytes_since_index_entry = from_position == 0 ? 0 : kIndexIntervalBytes;
  BatchScanner scanner(*segment->file, from_position, file_size, BatchScanner::kDefaultReadAhead,
                       BatchScanner::Zeros::end_of_data);
  while (true) {
    auto batch = scanner.next(/*verify=*/true);
    if (!batch.ok()) {
      *intact = false;
      recovery_.truncation_reason =
          fmt::format("{}: {}", segment->path, batch.status().message());
      break;
    }
    if (!batch->has_value()) break;
    const BatchHeader& header = (*batch)->header;
    bool in_order = allow_gaps ? header.base_offset >= segment->next_offset
                               : header.base_offset == segment->next_offset;
    if (!in_order) {
      *intact = false;
      recovery_.truncation_reason =
          fmt::format("{}: batch at position {} starts at offset {}, expected {}", segment->path,
                      (*batch)->position, header.base_offset, segment->next_offset);
      break;
    }
    index_batch_locked(*segment, header, (*batch)->position);
    CAIRN_RETURN_IF_ERROR(persist_index_if_full_locked());
    segment->size_bytes = (*batch)->position + header.size_bytes();
    segment->next_offset = header.next_offset();
    ++recovery_.batches_scanned;
  }
  segment->max_timestamp_ms = running_max_ts_;
  if (segment->size_bytes < file_size) {
    // Zeros written ahead are cut as no damage: appends write them again.
    uint64_t cut = file_size - segment->size_bytes;
    (scanner.zeroed_tail_bytes() == cut ? recovery_.zeroed_bytes_cut : recovery_.bytes_truncated) += cut;
    CAIRN_RETURN_IF_ERROR(segment->file->truncate(segment->size_bytes));
    CAIRN_RETURN_IF_ERROR(segment->file->sync());
  }
  return {};
}

}  // namespace cairn::storage
