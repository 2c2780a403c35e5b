#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "proto/record_batch.h"
#include "proto/status.h"
#include "proto/strong_int.h"
#include "proto/topic_partition.h"
#include "storage/batch_scanner.h"
#include "storage/clock.h"
#include "storage/compactor.h"
#include "storage/env.h"
#include "storage/index_store.h"
#include "storage/log_config.h"
#include "storage/segment.h"

namespace cairn::storage {

struct AppendResult {
  Offset base_offset;
  Offset last_offset;
  int64_t append_time_ms = 0;
  Term term;  // the batches were stamped with
};

// Whether PartitionLog::read returns a first batch larger than max_bytes.
// A reader that gets nothing else must get it, or it never progresses; a
// fetch filling the rest of a response must not overshoot its limit.
enum class FirstBatch { always, only_if_it_fits };

// Whole batches read from the log, as stored.
struct ReadResult {
  std::string bytes;     // zero or more complete, CRC-verified batches
  Offset next_offset;    // where the next read should start
};

// What one compaction pass did (PartitionLog::compact).
struct CompactionResult {
  size_t segments_cleaned = 0;
  int64_t records_removed = 0;
  uint64_t bytes_before = 0;  // of the segments cleaned, before and after
  uint64_t bytes_after = 0;
};

// What recovery found when the log was opened.
struct RecoveryReport {
  size_t segments = 0;
  size_t batches_scanned = 0;
  uint64_t bytes_truncated = 0;  // damaged or torn bytes cut
  uint64_t zeroed_bytes_cut = 0;  // zeros written ahead, cut as no damage
  size_t segments_dropped = 0;   // whole segments after a corrupt point
  bool scan_skipped = false;     // clean shutdown: nothing to verify
  std::string truncation_reason; // empty when nothing was cut
  // Offsets [first, second) that the index recorded as durable but the
  // segments no longer hold: data loss, logged as an error. Recovery keeps
  // the intact segments after such a hole rather than delete more.
  std::vector<std::pair<Offset, Offset>> lost;
};

// The append-only log of one partition: segment files in one folder, their
// index in the broker's IndexStore.
//
// Offsets: log_start <= flushed <= log_end. Records below log_start are gone
// (retention); [log_start, flushed) is durable; [flushed, log_end) is
// appended but may be lost by a power failure. Offsets increase through the
// log; segments are contiguous (each ends where the next begins), and so are
// batches except where compaction removed records: an offset in such a gap
// reads as the next batch after it.
//
// Threads: every method is thread-safe. Appends, truncation and retention
// serialise on the log's mutex; reads hold it only to find the segment, then
// read the file without it. Syncs (flush_now) run without the mutex, so
// appends continue while a group commit is in flight. Compaction reads and
// writes files without the mutex and takes it only to swap a cleaned segment
// in. Lock order: start_mutex_, then the owner's lock (set_owner_guard),
// then compact_mutex_, then sync_mutex_, then mutex_.
class PartitionLog {
 public:
  using FlushCallback = std::function<void(Status)>;

  // Opens the partition in `dir` (created if missing), recovering it: verifies
  // every batch after the last flushed offset, truncates a torn or corrupt
  // tail, and rebuilds missing index entries.
  static Result<std::unique_ptr<PartitionLog>> open(Env& env, Clock& clock, IndexStore& index,
                                                    TopicPartition tp, std::string dir,
                                                    LogConfig config);
  ~PartitionLog();

  // Appends the batches of one request, all or nothing: every batch is
  // validated (size, CRC, each record's framing, counts; on a compacted
  // topic a key on every record, else invalid_request) before any is
  // written, and all go to the active segment in one gather write that is
  // cut back if it fails. Each is written with its base offset and term
  // stamped into a copy of its header; the caller's bytes are not changed.
  // The result spans every batch. A failed append leaves the log unchanged.
  Result<AppendResult> append(std::span<const std::span<const std::byte>> batches, Term term);
  // The checks append() makes of each batch before writing any, without
  // writing: what a Raft leader runs before it proposes, so that bad input
  // is refused rather than stopping the group at its own append.
  Result<std::vector<BatchHeader>> check_batches(
      std::span<const std::span<const std::byte>> batches) const;
  Result<AppendResult> append(std::span<const std::byte> batch, Term term) {
    return append({&batch, 1}, term);
  }

  // Whole batches starting with the one that holds `offset`, up to `max_bytes`
  // (the first one even if larger, unless `first` says otherwise), none at or
  // beyond `max_offset` (exclusive; readers pass the high watermark).
  Result<ReadResult> read(Offset offset, size_t max_bytes, Offset max_offset,
                          FirstBatch first = FirstBatch::always) const;

  // The header of the batch holding `offset`, in [log_start, log_end): its
  // offsets and term, as Raft's entry bounds; reads one batch.
  Result<BatchHeader> batch_header_at(Offset offset) const;
  // Calls `visit` with the header of every batch that ends at or after
  // `from`, in offset order, up to the log end as it was when called:
  // headers only, one small read each (what rebuilding state kept in batch
  // headers costs). Stops at the first error.
  Status scan_headers(Offset from, const std::function<void(const BatchHeader&)>& visit) const;

  // The first offset whose record timestamp is >= `timestamp_ms`, or nullopt
  // when every record is older.
  Result<std::optional<Offset>> offset_for_time(int64_t timestamp_ms) const;

  // The term stamped on the batch holding `offset` (the epoch index, no
  // I/O), for offsets in [log_start - 1, log_end): log_start - 1 is the
  // log's base, whose batch may be gone. None outside, or if unknown (a base
  // whose term the index lost with the batch). Terms never decrease along
  // the log; an append with a lower term than the last is refused.
  std::optional<Term> term_at(Offset offset) const;
  // The term of the last batch; none for an empty log without a base.
  std::optional<Term> last_term() const;

  // Removes every record at or after `offset`, which must be a batch
  // boundary in [max(log_start, compacted_end), log_end]. Durable when it
  // returns.
  Status truncate_suffix(Offset offset);
  // Forgets everything below `offset`, which must be at most the deletable
  // end (as Kafka's DeleteRecords stops at the high watermark), so a power
  // loss can never take back records below the log start; whole segments
  // below it go.
  Status advance_start(Offset offset);
  // Records at or past `end` are never deleted: not by retention, not by
  // advance_start, and compaction neither cleans them nor lets them
  // supersede older records. A Raft replica sets it to its commit index + 1
  // (its uncommitted tail may still be truncated). advance_start and
  // compaction also stop at the flushed offset. Default: no limit.
  void set_delete_limit(Offset end);
  // The delete limit as the index last held it when the log opened (saved
  // with every index write, unsynced); 0 if none. Offsets below it were
  // committed when it was written; a crash may have taken some back since,
  // so it can pass the log's end.
  Offset committed_checkpoint() const { return committed_checkpoint_; }
  // Drops every record and restarts the log empty at `start`, after an
  // entry (start - 1) of term `base_term` it never held: how a replica too
  // far behind jumps to its leader's log start. log_start, log_end and the
  // flushed offset all become `start`; appends continue there. Flush
  // waiters not yet answered fail. `base_term` may be below the terms of
  // the records dropped (a deposed leader's uncommitted tail). Refused
  // (invalid_request) if `start` is below the log start, or below the
  // compacted end while segments begin there (Raft never resets there:
  // compaction stays below the commit index). Durable when it returns; a
  // crash midway leaves either the old log (perhaps truncated) or the
  // restarted one (the bounds file's restart_term is the commit point, and
  // recovery finishes a reset it finds). A failure past the commit point
  // stops the partition; reopening it finishes the reset.
  Status reset(Offset start, Term base_term);
  // Closes the active segment; the next append opens a new one.
  Status roll();

  // Syncs everything appended so far; group commit: callers that arrive
  // while a sync runs share the next one.
  Status flush_now();
  // Calls `done` (on the flushing thread, or at once) when every offset
  // below `offset_end` is durable, or with the error that prevents it.
  void when_flushed(Offset offset_end, FlushCallback done);
  // Whether the interval policy wants a sync now.
  bool flush_due() const;
  // Called (without locks held) after an append that wants a sync soon: the
  // on_append policy, or flush.bytes reached. The store points it at its
  // flusher. Set before the log is shared between threads.
  void set_flush_hook(std::function<void()> hook) { flush_hook_ = std::move(hook); }
  // Called on the flushing thread, holding only the log's sync lock (so not
  // one a truncation may wait for), each time the flushed offset advances,
  // with its new value: long-polling readers wake on it.
  // Set before the log is shared between threads.
  void set_flushed_listener(std::function<void(Offset)> listener) {
    flushed_listener_ = std::move(listener);
  }
  // Called (without locks held, on the reading thread) when a read finds
  // stored bytes that fail verification (storage_corrupt), with the offset
  // of a batch boundary at or below the damage: everything from there may
  // be lost. A replicated partition repairs from its peers; the read itself
  // still fails. May be set while others read (the scrubber reads every open log).
  void set_damage_listener(std::function<void(Offset)> listener) {
    std::lock_guard lock(mutex_);
    damage_listener_ = std::move(listener);
  }

  // Deletes closed segments beyond retention.ms / retention.bytes.
  // Returns how many segments were deleted.
  Result<size_t> apply_retention();
  // Moves of the log start (apply_retention, advance_start) first call
  // `guard` and hold what it returns until the new start is in place (not
  // while old files are deleted): an owner that reads
  // the start and the records past it as one step (a Raft replica's
  // consensus, under its mutex) returns its lock, so the start never moves
  // inside such a step. The owner must not move the start holding that
  // lock. Waits for a move in progress. Null: no owner.
  using OwnerGuard = std::function<std::shared_ptr<void>()>;
  void set_owner_guard(OwnerGuard guard);

  // Rewrites the closed, flushed segments keeping only the newest record of
  // each key in the whole log, and dropping tombstones older than
  // delete.retention.ms (partition_log_compaction.cc; docs/storage.md).
  // Offsets never change and the active segment is never touched. Reads and
  // appends go on while it runs. Whatever cleanup.policy says: the store
  // calls it only for compacted topics.
  Result<CompactionResult> compact();

  // Syncs, records a clean shutdown, and stops accepting appends.
  Status close();
  // Takes no more appends: closed, or stopped by a failed sync (after one,
  // only recovery from the files can tell what is durable) or by a failed
  // write it could not undo. A write that failed and was undone (a full
  // disk) does not stop it.
  bool stopped() const;

  Offset log_start() const;
  Offset log_end() const;
  Offset flushed() const;
  // The flushed offset, or in a Raft group (a delete limit set) the most of
  // it known committed: the delete limit or the committed checkpoint. Never
  // truncated again; only retention, compaction and damage repair change
  // what is below.
  Offset stable_end() const;
  // Compaction has rewritten segments below it; truncate_suffix refuses it.
  Offset compacted_end() const;
  uint64_t size_bytes() const;
  size_t segment_count() const;
  LogConfig config() const;
  void set_config(LogConfig config);
  const TopicPartition& topic_partition() const { return tp_; }
  const std::string& dir() const { return dir_; }
  const RecoveryReport& recovery_report() const { return recovery_; }

 private:
  PartitionLog(Env& env, Clock& clock, IndexStore& index, TopicPartition tp, std::string dir,
               LogConfig config);
  using SegmentPtr = std::shared_ptr<Segment>;

  // recovery (partition_log_recovery.cc)
  Status recover();
  Status verify_segments(const std::optional<PartitionMeta>& meta);
  Status scan_segment(const SegmentPtr& segment, uint64_t from_position, Offset from_offset,
                      bool allow_gaps, bool* intact);
  // Records that [segment's end, lost_end) is gone though durable.
  void report_loss(const Segment& segment, Offset lost_end, Offset durable_end);
  Status remove_cleaned_leftovers(const std::vector<std::string>& names);
  // reset() past its commit point: the in-memory log restarted; the old
  // segments go to `removed` (files deleted by the caller).
  Status restart_locked(Offset start, Term base_term, std::vector<SegmentPtr>& removed);
  // Deletes the segments from before a reset (bases below `restart`) and
  // makes (restart - 1, restart_term) the base epoch; idempotent.
  Status finish_reset(Offset restart, Term restart_term);

  // compaction (partition_log_compaction.cc)
  struct CompactionPlan;
  CompactionPlan plan_compaction() const;
  // Cleans the plan's segment `index` into a temporary file and swaps it in.
  // False when the log changed under the plan (truncated, closed): the pass
  // must stop.
  Result<bool> clean_and_swap(const CompactionPlan& plan, size_t index,
                              const KeyIndex& keys, CompactionResult& result);
  Result<bool> swap_in_cleaned(const CompactionPlan& plan, size_t index,
                               std::shared_ptr<File> file, const CleanedSegment& cleaned);

  Result<SegmentPtr> create_segment(Offset base);
  Status roll_locked();
  // Tops up the zeros written ahead of the active segment's end
  // (preallocate.bytes) after an append of `appended` bytes.
  void zero_ahead_locked(Segment& active, uint64_t appended);
  // Cuts a segment's file back to its batches, dropping zeros written ahead.
  Status cut_zeroed_tail_locked(Segment& segment);
  // truncate_suffix under mutex_; the segments it drops from the log go to
  // `removed`, whose files the caller deletes.
  Status truncate_locked(Offset offset, std::vector<SegmentPtr>& removed);
  Status maybe_roll_locked(size_t incoming_bytes, int64_t now_ms);
  // Adds the batch's entries to pending_index_ (no I/O).
  void index_batch_locked(Segment& segment, const BatchHeader& header, uint64_t position);
  SegmentPtr segment_for_locked(Offset offset) const;
  // Keeps what persist_index_locked wrote in recent_offset_entries_.
  void remember_written_entries_locked(const std::vector<OffsetEntry>& written);
  // Drops the recent entries below `offset` (the index lost or rewrote them).
  void forget_recent_entries_below_locked(Offset offset);
  // The batch holding `offset` (its header and where it starts), found by
  // reading headers only, from `floor` (the index entry at or below it)
  // when it lies in this segment.
  Result<ScannedBatch> batch_holding(const Segment& segment, uint64_t segment_size, Offset offset,
                                     std::optional<OffsetEntry> floor) const;
  Status delete_segment_files(const std::vector<SegmentPtr>& segments);

  // Index lookups that see the entries not yet written to RocksDB.
  std::optional<OffsetEntry> floor_entry_locked(Offset offset) const;
  std::optional<TimeEntry> time_entry_before_locked(int64_t timestamp_ms) const;
  std::optional<TimeEntry> last_time_entry_below_locked(Offset offset) const;
  // Writes the pending index entries with the partition metadata (and a
  // segment summary) in one atomic RocksDB batch.
  // The partition's meta as it stands, for the index.
  PartitionMeta meta_locked(bool clean) const;
  Status persist_index_locked(bool clean, bool sync,
                              std::vector<std::pair<Offset, SegmentSummary>> summaries = {});
  // min(flushed_, delete_limit_): what advance_start and compaction may touch.
  Offset deletable_end_locked() const { return std::min(flushed_, delete_limit_); }
  // Drops epoch entries that start at or after `offset`.
  void drop_epochs_from_locked(Offset offset);
  // Makes (term, start - 1) the log's base epoch, dropping entries below.
  void set_base_epoch_locked(Offset start, Term term);
  // Drops epoch entries wholly below log_start_ - 1 (the base).
  void trim_epochs_below_start_locked();
  std::optional<Term> term_at_locked(Offset offset) const;
  // Writes the pending entries once kMaxPendingIndexEntries pile up.
  Status persist_index_if_full_locked();
  static std::pair<Offset, SegmentSummary> summary_entry(const Segment& segment);
  Result<AppendResult> append_batches(std::span<const std::span<const std::byte>> batches,
                                      Term term, bool* want_flush);

  Env& env_;
  Clock& clock_;
  IndexStore& index_;
  const TopicPartition tp_;
  const std::string dir_;

  mutable std::mutex mutex_;
  LogConfig config_;
  std::map<Offset, SegmentPtr> segments_;  // by base offset; the last is active
  // Rolled segments awaiting a sync that covers their final size. A segment
  // leaves only then, and only then gets the summary recovery trusts.
  std::vector<SegmentPtr> unsynced_;
  Offset log_start_;
  Offset log_end_;
  Offset flushed_;
  Offset compacted_end_;  // durable (PartitionMeta) once a cleaned segment is swapped in
  Offset delete_limit_ = Offset::max();  // set_delete_limit
  Offset committed_checkpoint_;          // committed_checkpoint()
  // Where each term starts, oldest first: terms and starts strictly rise,
  // the last entry covers log_end_ - 1, and the first one covers
  // log_start_ - 1 when the log has a base. Written with the index (the
  // same invariants as offset entries: a flushed offset or a summary
  // implies the entries below it are written).
  std::vector<EpochEntry> epochs_;
  bool epochs_dirty_ = false;  // epochs_ changed since the index last took it
  int64_t running_max_ts_ = INT64_MIN;
  int64_t first_unflushed_ms_ = 0;  // append time of the oldest unflushed batch
  uint64_t unflushed_bytes_ = 0;
  uint64_t truncations_ = 0;        // bumped by truncate_suffix; a sync across one is void
  bool dir_dirty_ = false;          // a segment file was created since the last folder sync
  bool closed_ = false;
  bool failed_ = false;     // a sync failed: the log refuses appends and syncs
  Status failed_status_;
  // Index entries of the active segment not yet in RocksDB. They are written
  // with each group commit (so the append path costs no index I/O), at a
  // roll (before the summary) and when kMaxPendingIndexEntries pile up.
  IndexUpdate pending_index_;
  // The newest offset entries written to RocksDB, oldest first, at most
  // kRecentOffsetEntries. Invariant: every entry RocksDB holds at or above
  // the first of them is here too (a suffix of the index), so a read at or
  // past it — a follower replicating, a consumer at the tail — finds its
  // position in memory instead of seeking RocksDB. Whatever deletes or
  // rewrites entries in RocksDB drops the ones here it touches.
  std::deque<OffsetEntry> recent_offset_entries_;
  std::multimap<Offset, FlushCallback> flush_waiters_;  // by offset_end
  RecoveryReport recovery_;
  std::function<void()> flush_hook_;
  std::function<void(Offset)> flushed_listener_;
  std::function<void(Offset)> damage_listener_;  // guarded by mutex_

  std::mutex sync_mutex_;     // one sync at a time
  std::mutex compact_mutex_;  // one compaction at a time
  std::mutex start_mutex_;    // one move of the start at a time; guards owner_guard_
  OwnerGuard owner_guard_;
};

}  // namespace cairn::storage
