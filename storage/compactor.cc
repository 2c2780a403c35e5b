#include "storage/compactor.h"

#include <cassert>
#include <optional>

#include <fmt/format.h>

#include "proto/byte_io.h"
#include "proto/record_batch.h"
#include "proto/record_batch_format.h"
#include "storage/batch_scanner.h"
#include "storage/segment.h"

namespace cairn::storage {
namespace {

// Attribute bits a rebuilt batch reproduces: RecordBatchBuilder writes only
// the compression codec.
bool rebuildable(const BatchHeader& header) {
  return (header.attributes & ~batch_format::kCompressionMask) == 0;
}

Status corrupt(const std::string& path, const Status& status) {
  return error(ErrorCode::storage_corrupt, "{}: {}", path, status.message());
}

// Appends batches to the cleaned file and builds its sparse offset index the
// way appends do: an entry for a batch once kIndexIntervalBytes have passed
// since the last one.
class CleanedWriter {
 public:
  explicit CleanedWriter(File& out) : out_(out) {}

  Status write(std::span<const std::byte> batch, Offset base_offset) {
    if (bytes_since_index_entry_ >= kIndexIntervalBytes) {
      cleaned_.offset_entries.push_back({base_offset, cleaned_.size_bytes});
      bytes_since_index_entry_ = 0;
    }
    CAIRN_RETURN_IF_ERROR(out_.append(batch));
    cleaned_.size_bytes += batch.size();
    bytes_since_index_entry_ += batch.size();
    return {};
  }

  CleanedSegment& result() { return cleaned_; }

 private:
  File& out_;
  CleanedSegment cleaned_;
  uint64_t bytes_since_index_entry_ = 0;
};

bool keeps(const Record& record, const CleanRules& rules) {
  if (!record.key || record.offset == rules.last_offset) return true;
  auto newest = rules.keys->latest.find(*record.key);
  assert(newest != rules.keys->latest.end() && "every key was learnt");
  if (newest->second != record.offset) return false;
  if (record.value || !rules.drop_tombstones) return true;
  auto pinned = rules.keys->pinned.find(*record.key);
  return pinned != rules.keys->pinned.end() && pinned->second < record.offset;
}

// One batch holding `records` (contiguous offsets, in order) with the
// original batch's term, compression and producer.
Result<std::string> rebuild(const BatchHeader& original, std::span<const Record> records) {
  RecordBatchBuilder builder(original.compression());
  for (const Record& r : records) builder.add(r.key, r.value, r.headers, r.timestamp_ms);
  if (original.producer_id >= 0) {
    int32_t delta = static_cast<int32_t>(records.front().offset - original.base_offset);
    int32_t sequence = original.base_sequence >= 0 ? sequence_after(original.base_sequence, delta) : -1;
    builder.set_producer(original.producer_id, original.producer_epoch, sequence);
  }
  auto batch = builder.build();
  if (!batch.ok()) return batch.status();
  stamp_batch(as_writable_bytes(*batch), records.front().offset, original.leader_epoch);
  return batch;
}

// Writes the kept records of one batch: the batch as it is when nothing
// goes, else one rebuilt batch per run of contiguous kept offsets.
Status clean_batch(const BatchHeader& header, std::span<const std::byte> bytes,
                   const std::vector<Record>& records, const CleanRules& rules,
                   CleanedWriter& writer) {
  std::vector<Record> run;
  auto flush_run = [&]() -> Status {
    if (run.empty()) return {};
    auto batch = rebuild(header, run);
    if (!batch.ok()) return batch.status();
    // The rebuilt batch is checked before it is written, like any append;
    // a failure abandons this cleaning and leaves the segment as it was. Its
    // records are a subset of ones decoded within kMaxDecodedBatchBytes.
    auto valid = validate_batch(as_bytes(*batch), kMaxDecodedBatchBytes);
    if (!valid.ok()) return valid.status();
    Offset base = run.front().offset;
    run.clear();
    return writer.write(as_bytes(*batch), base);
  };
  int64_t removed = 0;
  for (const Record& record : records) {
    if (!keeps(record, rules)) {
      ++removed;
      CAIRN_RETURN_IF_ERROR(flush_run());
      continue;
    }
    run.push_back(record);
  }
  if (removed == 0) return writer.write(bytes, header.base_offset);
  writer.result().records_removed += removed;
  return flush_run();
}

}  // namespace

Status KeyIndex::add_segment(const File& file, const std::string& path, uint64_t size_bytes) {
  BatchScanner scanner(file, 0, size_bytes);
  std::optional<Record> last;
  while (true) {
    auto batch = scanner.next(/*verify=*/true);
    if (!batch.ok()) return corrupt(path, batch.status());
    if (!batch->has_value()) break;
    // Control batches are kept whole; their keys are not application keys.
    if ((*batch)->header.is_control()) continue;
    auto records = decode_batch(scanner.last_batch_bytes());
    if (!records.ok()) return corrupt(path, records.status());
    for (const Record& record : *records) {
      if (record.key) latest[*record.key] = record.offset;
    }
    last = std::move(records->back());
  }
  if (last && last->key) pinned.try_emplace(*last->key, last->offset);
  return {};
}

Result<CleanedSegment> clean_segment(const File& source, const std::string& path,
                                     uint64_t size_bytes, const CleanRules& rules, File& out) {
  assert(out.size() == 0);
  CleanedWriter writer(out);
  BatchScanner scanner(source, 0, size_bytes);
  while (true) {
    auto batch = scanner.next(/*verify=*/true);
    if (!batch.ok()) return corrupt(path, batch.status());
    if (!batch->has_value()) break;
    const BatchHeader& header = (*batch)->header;
    auto bytes = scanner.last_batch_bytes();
    if (!rebuildable(header)) {
      CAIRN_RETURN_IF_ERROR(writer.write(bytes, header.base_offset));
      continue;
    }
    auto records = decode_batch(bytes);
    if (!records.ok()) return corrupt(path, records.status());
    CAIRN_RETURN_IF_ERROR(clean_batch(header, bytes, *records, rules, writer));
  }
  return std::move(writer.result());
}

}  // namespace cairn::storage
