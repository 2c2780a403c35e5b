#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "proto/status.h"
#include "proto/strong_int.h"
#include "proto/topic_partition.h"

namespace rocksdb {
class DB;
}

namespace cairn::storage {

// Where a batch starts: its base offset and its byte position in the segment
// that holds it.
struct OffsetEntry {
  Offset offset;
  uint64_t position = 0;
};

// The partition's running maximum timestamp reached `timestamp_ms` first in
// the batch starting at `offset`.
struct TimeEntry {
  int64_t timestamp_ms = 0;
  Offset offset;
};

// What a closed segment holds, so that opening a log need not rescan it.
struct SegmentSummary {
  uint64_t size_bytes = 0;
  Offset next_offset;
  int64_t max_timestamp_ms = 0;
};

// The log's terms: from `start` on, batches carry `term` (their leader-epoch
// field), until the next entry (Kafka's leader-epoch cache).
struct EpochEntry {
  Term term;
  Offset start;
  bool operator==(const EpochEntry&) const = default;
};

// Durable partition metadata that the segments cannot tell.
struct PartitionMeta {
  Offset log_start;
  Offset flushed;          // every offset below was fsynced
  bool clean_shutdown = false;
  // A sync failed: bytes after `flushed` may be in the page cache only, and
  // recovery must not trust them however valid they look.
  bool sync_failed = false;
  // Compaction rewrote segments below this offset: truncating there could
  // leave a log whose batches end before its end (a gap a scan cannot see).
  Offset compacted_end;
  // The delete limit (a Raft replica's commit end) when this was written:
  // the offsets below it were committed then, so are forever. 0: never set.
  Offset committed_end;
};

// Index writes for one partition that must land together: a segment's
// summary after its entries, the flushed offset with the entries below it.
struct IndexUpdate {
  // Offset entries in [first, second) to drop before offset_entries are put:
  // a compacted segment replaces all of its entries at once.
  std::optional<std::pair<Offset, Offset>> cleared_offsets;
  std::vector<OffsetEntry> offset_entries;
  std::vector<TimeEntry> time_entries;
  // By segment base. A summary describes synced bytes only: recovery trusts
  // a segment whose file matches its summary without reading it.
  std::vector<std::pair<Offset, SegmentSummary>> summaries;
  std::optional<PartitionMeta> meta;
  // When set, replaces the partition's whole epoch list (a few entries).
  std::optional<std::vector<EpochEntry>> epochs;
};

// The broker's single RocksDB: per partition, the sparse offset index, the
// time index, closed-segment summaries and metadata (key layout in
// docs/storage.md). Everything but PartitionMeta::log_start can be rebuilt
// from the segments, which stay the truth.
//
// Invariant relied on by recovery: writes are ordered (one WAL), so if a
// segment's summary survived a crash, so did every index entry of that
// segment, which was written before it.
//
// Thread-safe (RocksDB is). Writes are not synced unless the method says so.
class IndexStore {
 public:
  // Opens or creates the database in `path`. A database that cannot be opened
  // (damaged or deleted files) is wiped and created anew: it is rebuildable.
  // `rebuilt` tells the caller so.
  static Result<std::unique_ptr<IndexStore>> open(const std::string& path, bool* rebuilt = nullptr);
  ~IndexStore();

  // Applies `update` atomically (one RocksDB write batch).
  Status write(const TopicPartition& tp, const IndexUpdate& update, bool sync);

  // The entry with the greatest offset <= `offset`.
  std::optional<OffsetEntry> floor_offset_entry(const TopicPartition& tp, Offset offset) const;
  // The entry with the greatest timestamp < `timestamp_ms`.
  std::optional<TimeEntry> time_entry_before(const TopicPartition& tp, int64_t timestamp_ms) const;
  // The entry with the greatest offset < `offset` (the running max there).
  std::optional<TimeEntry> last_time_entry_below(const TopicPartition& tp, Offset offset) const;
  // Drops offset and time entries at or above / below `offset`.
  Status delete_entries_from(const TopicPartition& tp, Offset offset);
  Status delete_entries_below(const TopicPartition& tp, Offset offset);

  std::optional<SegmentSummary> summary(const TopicPartition& tp, Offset segment_base) const;
  Status delete_summary(const TopicPartition& tp, Offset segment_base);

  std::optional<PartitionMeta> meta(const TopicPartition& tp) const;
  // The epoch list last written, oldest first; empty if none.
  std::vector<EpochEntry> epochs(const TopicPartition& tp) const;

  // Removes every key of the partition.
  Status drop_partition(const TopicPartition& tp);

  // Called on the writing thread after each write that was synced (and so
  // survives a power loss with every write before it). Tests snapshot the
  // index there to model a power loss (storage/test_util.h). Set it before
  // the store is shared between threads.
  void set_synced_write_listener(std::function<void()> listener) {
    synced_write_listener_ = std::move(listener);
  }
  // Tests: while set, every write fails with io_error and applies nothing,
  // as a failing disk would.
  void fail_writes_for_testing(bool fail) { fail_writes_ = fail; }
  // A consistent copy of the database in the new folder `dir`.
  Status checkpoint(const std::string& dir) const;

  // Counts entries, for tests and the log tools.
  size_t count_offset_entries(const TopicPartition& tp) const;

 private:
  explicit IndexStore(std::unique_ptr<rocksdb::DB> db);
  std::unique_ptr<rocksdb::DB> db_;
  std::function<void()> synced_write_listener_;
  std::atomic<bool> fail_writes_{false};
};

}  // namespace cairn::storage
