#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "proto/status.h"

namespace cairn::storage {

// When appended data becomes durable.
enum class FlushPolicy {
  // fdatasync before an append counts as flushed; concurrent appends share
  // one sync (group commit). Nothing acknowledged is lost on power failure.
  on_append,
  // fdatasync every `flush_ms` or `flush_bytes`, whichever comes first. A
  // power failure may lose up to that much acknowledged data.
  interval,
};

// What happens to old data (cleanup.policy).
enum class CleanupPolicy {
  // Closed segments beyond retention.ms / retention.bytes are deleted.
  delete_old,
  // Closed segments are compacted: only the newest record per key is kept
  // (docs/storage.md, "Compaction"). Nothing is deleted by age or size.
  compact,
  // Both: compacted, and deleted beyond retention.
  compact_and_delete,
};

bool compacts(CleanupPolicy policy);
bool deletes(CleanupPolicy policy);

// Per-topic log settings. Each field names its config key, default and unit;
// every one can change at runtime (PartitionLog::set_config) and takes
// effect on the next append or retention pass.
struct LogConfig {
  // segment.bytes: the active segment rolls before it would exceed this. Default 1 GiB.
  int64_t segment_bytes = 1LL << 30;
  // segment.ms: the active segment rolls once it is this old. Default 7 days.
  int64_t segment_ms = 7LL * 24 * 3600 * 1000;
  // retention.ms: closed segments whose newest record is older are deleted.
  // -1 keeps them forever. Default 7 days.
  int64_t retention_ms = 7LL * 24 * 3600 * 1000;
  // retention.bytes: oldest closed segments are deleted while the partition
  // stays above this size without them. -1 means no limit. Default -1.
  int64_t retention_bytes = -1;
  // max.message.bytes: the largest batch accepted, header included. Default 1 MiB.
  int64_t max_message_bytes = 1 << 20;
  // flush.policy: "on_append" (default) or "interval".
  FlushPolicy flush_policy = FlushPolicy::on_append;
  // flush.ms: with the interval policy, the longest data stays unsynced. Default 1000 ms.
  int64_t flush_ms = 1000;
  // flush.bytes: with the interval policy, the most bytes left unsynced. Default 16 MiB.
  int64_t flush_bytes = 16 << 20;
  // cleanup.policy: "delete" (default), "compact" or "compact,delete".
  // Appends to a compacted topic must give every record a key.
  CleanupPolicy cleanup_policy = CleanupPolicy::delete_old;
  // delete.retention.ms: with compaction, how long a tombstone (a record with
  // a null value) survives, counted from the newest timestamp of the segment
  // that holds it. Default 1 day.
  int64_t delete_retention_ms = 24LL * 3600 * 1000;
  // preallocate.bytes: zeros the active segment keeps written ahead of its
  // end, so that a sync of appends changes no file metadata (docs/storage.md,
  // "Zeroed space ahead"). 0 turns it off: on btrfs or ZFS, which copy on
  // write, the zeros only double the writes. Default 256 KiB.
  int64_t preallocate_bytes = 256 << 10;

  // Returns a copy with `overrides` applied ("retention.ms" -> "60000", ...).
  // Unknown keys and invalid values are an invalid_config error that names them.
  Result<LogConfig> with(const std::map<std::string, std::string>& overrides) const;
  // Every key with its current value, for describe.
  std::map<std::string, std::string> to_map() const;

  bool operator==(const LogConfig&) const = default;
};

}  // namespace cairn::storage
