#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "proto/strong_int.h"
#include "storage/env.h"

namespace cairn::storage {

// The sparse offset index gets an entry at least every this many bytes of a
// segment (docs/storage.md).
constexpr uint64_t kIndexIntervalBytes = 4096;
// Index entries a partition buffers in memory before writing them out even
// without a group commit (bounds memory under the interval flush policy).
constexpr size_t kMaxPendingIndexEntries = 1024;
// Offset entries a partition keeps in memory after writing them (its tail's
// positions, at 4 KiB apart about 1 MiB of log).
constexpr size_t kRecentOffsetEntries = 256;

// One segment file of a partition's log: record batches back to back, named
// by the base offset of its first batch ("00000000000000001234.log").
//
// The file handle is shared so that a reader that found the segment can
// finish its read after retention or truncation dropped it from the log.
// The mutable fields are guarded by the owning PartitionLog's mutex.
struct Segment {
  Segment(Offset base, std::string path, std::shared_ptr<File> file)
      : base_offset(base), path(std::move(path)), file(std::move(file)), next_offset(base) {}

  const Offset base_offset;
  const std::string path;
  const std::shared_ptr<File> file;

  Offset next_offset;                  // one past the last offset it holds
  int64_t max_timestamp_ms = INT64_MIN;  // partition's running max at its end
  int64_t created_ms = 0;              // first append, for segment.ms
  uint64_t bytes_since_index_entry = 0;
  uint64_t size_bytes = 0;             // bytes of complete, appended batches
  // Zeros were written ahead up to here; a segment that stops being active
  // is cut back to size_bytes.
  uint64_t zeroed_until = 0;

  bool empty() const { return size_bytes == 0; }
};

std::string segment_file_name(Offset base);
// Where compaction builds the cleaned copy of the segment at `segment_path`
// before renaming it over the segment. Leftovers are deleted on open.
std::string cleaned_file_path(const std::string& segment_path);
bool is_cleaned_file_name(std::string_view name);
// The base offset of a segment file name, or nullopt for other files.
std::optional<Offset> parse_segment_file_name(std::string_view name);

}  // namespace cairn::storage
