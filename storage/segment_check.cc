#include "storage/segment_check.h"

#include <fmt/format.h>

namespace cairn::storage {

Result<SegmentCheck> check_segment(
    Env& env, const std::string& path,
    const std::function<void(const ScannedBatch&, std::span<const std::byte>)>& on_batch) {
  auto file = env.open_file(path, /*create=*/false);
  if (!file.ok()) return file.status();
  SegmentCheck check;
  check.path = path;
  check.file_bytes = (*file)->size();
  BatchScanner scanner(**file, 0, check.file_bytes, BatchScanner::kDefaultReadAhead,
                       BatchScanner::Zeros::end_of_data);
  while (true) {
    auto batch = scanner.next(/*verify=*/true);
    if (!batch.ok()) {
      check.problem = batch.status().message();
      check.problem_position = scanner.position();
      check.torn_tail = scanner.stopped_at_torn_tail();
      break;
    }
    if (!batch->has_value()) {
      check.zeroed_tail_bytes = scanner.zeroed_tail_bytes();
      break;
    }
    const BatchHeader& h = (*batch)->header;
    // Compaction may leave gaps between batches, never overlaps.
    if (check.next_offset && h.base_offset < *check.next_offset) {
      check.problem = fmt::format("at position {}: batch starts at offset {}, expected {} or later",
                                  (*batch)->position, h.base_offset, *check.next_offset);
      check.problem_position = (*batch)->position;
      break;
    }
    if (!check.first_offset) check.first_offset = h.base_offset;
    check.next_offset = h.next_offset();
    ++check.batches;
    check.records += h.record_count;
    check.valid_bytes = scanner.position();
    if (on_batch) on_batch(**batch, scanner.last_batch_bytes());
  }
  return check;
}

}  // namespace cairn::storage
