#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "proto/record_batch.h"
#include "storage/batch_scanner.h"
#include "storage/env.h"

namespace cairn::storage {

// The verdict on one segment file, read offline (the log tools).
struct SegmentCheck {
  std::string path;
  size_t batches = 0;
  int64_t records = 0;
  uint64_t file_bytes = 0;
  uint64_t valid_bytes = 0;             // the verified prefix
  std::optional<Offset> first_offset;   // of the first batch
  std::optional<Offset> next_offset;    // after the last valid batch
  std::string problem;                  // empty when the whole file is valid; names its position
  uint64_t problem_position = 0;
  // The problem is a last batch cut short by the file's end or by zeros
  // written ahead (File::zero_ahead).
  bool torn_tail = false;
  uint64_t zeroed_tail_bytes = 0;       // zeros written ahead after the batches: no problem
};

// Walks every batch of a segment file, verifying lengths, CRC-32C and that
// offsets increase (compacted segments may have gaps between batches), and calls `on_batch` (if set) for each valid batch
// with its bytes. Stops at the first problem. Never writes.
Result<SegmentCheck> check_segment(
    Env& env, const std::string& path,
    const std::function<void(const ScannedBatch&, std::span<const std::byte>)>& on_batch = {});

}  // namespace cairn::storage
