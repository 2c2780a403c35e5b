#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "proto/status.h"
#include "proto/strong_int.h"
#include "storage/env.h"
#include "storage/index_store.h"

namespace cairn::storage {

// The cleaning of segment files for log compaction (docs/storage.md,
// "Compaction"): what to keep of one segment, given the newest offset of
// every key in the whole log. Knows nothing of PartitionLog, its locks or the
// swap of the cleaned file; PartitionLog::compact() drives it.
//
// Invariants of a cleaned segment, relied on by readers and recovery:
// - every record keeps its offset; batches stay in offset order, so offsets
//   increase through the file but may leave gaps between batches;
// - the segment's last record is always kept, so the segment still ends at
//   the same next offset and segments stay contiguous;
// - each batch is valid RecordBatch v2 (record count = last offset delta + 1):
//   a batch whose kept records are not contiguous is split into one batch per
//   run of contiguous offsets, each with the original term, timestamps,
//   compression and producer.

// What compaction knows of the keys of a log, learnt by reading its
// segments oldest first. Memory grows with the number of distinct keys and
// their sizes: unbounded, like the key space of the topic.
struct KeyIndex {
  // The newest offset of each key.
  std::unordered_map<std::string, Offset> latest;
  // The lowest offset of each key whose record ends a segment. Cleaning
  // keeps those records even when newer ones exist, so a tombstone of such
  // a key must stay while one of them is older, or the key would come back.
  std::unordered_map<std::string, Offset> pinned;

  // Learns the keyed records in the batches of file bytes [0, size_bytes),
  // which must follow every segment added before. `path` names the file in
  // errors.
  Status add_segment(const File& file, const std::string& path, uint64_t size_bytes);
};

// What a cleaning keeps.
struct CleanRules {
  const KeyIndex* keys = nullptr;  // of the whole log; must outlive the call
  Offset last_offset;              // the segment's last offset: always kept
  bool drop_tombstones = false;    // the segment is older than delete.retention.ms
};

struct CleanedSegment {
  uint64_t size_bytes = 0;
  int64_t records_removed = 0;
  // The sparse offset index of the cleaned file (an entry at least every
  // kIndexIntervalBytes, as appends make them).
  std::vector<OffsetEntry> offset_entries;
};

// Appends to the empty file `out` the batches of `source` bytes
// [0, size_bytes) without the records `rules` drop: a keyed record that is
// not its key's newest, and a newest one that is a tombstone when
// `drop_tombstones` and no older record of its key is pinned. Records without a key are kept; so are whole batches
// with attributes beyond compression (control, transactional, log-append
// time), which a rebuild could not reproduce. Does not sync `out`.
Result<CleanedSegment> clean_segment(const File& source, const std::string& path,
                                     uint64_t size_bytes, const CleanRules& rules, File& out);

}  // namespace cairn::storage
