#pragma once

#include <optional>
#include <vector>

#include "broker/raft/log.h"
#include "storage/partition_log.h"

namespace cairn::broker {

// A partition replica's Raft log: its segment log, as consensus sees it
// (raft::Log). Raft's index is the offset and an entry is one record batch,
// so the commit index is the high watermark with no translation, and an
// entry's term is its batch's leader-epoch field, which the log stamps on
// append and keeps in its epoch index.
//
// Entry types are batches: a data entry's payload is the batch as stored
// (the leader's bytes, so every replica holds the same ones); a noop or
// membership entry is a control batch (leader_change, voters) whose one
// record's value is the entry's payload. Control batches carry timestamp 0,
// so they too are byte-identical on every replica, and never move the
// time index.
//
// Durability: flushed_index() is the log's flushed offset - 1, moved by
// group commit; the group's owner hears of it through the log's flushed
// listener and calls Consensus::on_log_flushed(). truncate_suffix() and
// reset() are durable when they return (PartitionLog's promise).
//
// Storage that fails under a read of an entry inside the log (a corrupt
// header) aborts: consensus cannot be told "unknown" there, and recovery
// after a restart cuts the log at the damage.
//
// Called only by the group's owner; the PartitionLog may be read by others.
class SegmentRaftLog final : public raft::Log {
 public:
  explicit SegmentRaftLog(storage::PartitionLog& log) : log_(log) {}

  Offset first_index() const override { return log_.log_start(); }
  Offset last_index() const override { return log_.log_end() - 1; }
  Offset flushed_index() const override { return log_.flushed() - 1; }
  std::optional<raft::EntryBounds> entry_bounds(Offset index) const override;
  Status append(std::vector<raft::Entry> entries) override;
  Status truncate_suffix(Offset from) override;
  Result<std::vector<raft::Entry>> read(Offset from, int64_t max_bytes,
                                        int32_t max_entries) const override;
  Status reset(Offset base_index, Term base_term) override;

 private:
  storage::PartitionLog& log_;
  // The last entry's bounds: what consensus asks for most (last_term()).
  mutable std::optional<raft::EntryBounds> last_entry_;
};

}  // namespace cairn::broker
