#pragma once

#include <climits>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cairn/record.h"
#include "proto/compression.h"
#include "proto/status.h"
#include "proto/strong_int.h"

namespace cairn {

// The fixed 61-byte header of a record batch (record_batch_format.h).
struct BatchHeader {
  Offset base_offset;
  int32_t batch_length = 0;
  Term leader_epoch;
  int8_t magic = 0;
  uint32_t crc = 0;
  int16_t attributes = 0;
  int32_t last_offset_delta = 0;
  int64_t base_timestamp_ms = 0;
  int64_t max_timestamp_ms = 0;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
  int32_t record_count = 0;

  Offset last_offset() const { return base_offset + last_offset_delta; }
  Offset next_offset() const { return base_offset + last_offset_delta + 1; }
  size_t size_bytes() const;  // whole batch, header included
  Compression compression() const;
  bool is_control() const;
};

// Reads the fixed header from the first 61 bytes, checking only that the
// length field is sane (≥ header, ≤ max), the magic, and that base offset and
// last offset delta leave last_offset() and next_offset() in range. No CRC
// check: cheap, for scans.
Result<BatchHeader> parse_batch_header(std::span<const std::byte> bytes, size_t max_batch_bytes);

// Detects damage in a batch read back from disk: exact size, magic, CRC-32C,
// record count vs last offset delta, max timestamp ≥ base timestamp. Does not
// walk the records: validate_batch did that when the batch was appended, and
// the CRC proves the bytes are still the ones it walked.
Result<BatchHeader> check_batch_integrity(std::span<const std::byte> batch,
                                          size_t max_batch_bytes);

// Everything a batch must satisfy to be appended: check_batch_integrity, then
// one pass over its records (decompressed first, into at most
// `max_batch_bytes`) checking each one's framing, that offset deltas are
// exactly 0..count-1, that the max timestamp is the greatest record's, and
// that nothing trails. Allocates nothing sized by a length read from the
// batch; an uncompressed batch is walked in place. docs/record_batch.md lists
// every check. Errors: corrupt_batch, or record_too_large when the batch or
// its decompressed records exceed `max_batch_bytes`.
Result<BatchHeader> validate_batch(std::span<const std::byte> batch, size_t max_batch_bytes);

// decode_batch's default bound on a batch's decompressed records, and the
// bound for batches the store rebuilds itself (compaction): 64 MiB.
constexpr size_t kMaxDecodedBatchBytes = 64 << 20;

// Writes base offset and leader epoch (outside the CRC) into a batch.
void stamp_batch(std::span<std::byte> batch, Offset base_offset, Term leader_epoch);

// Idempotent producers' sequence numbers count records from 0 and wrap
// after INT32_MAX to 0: the sequence `count` records after `first`.
constexpr int64_t kSequenceSpace = int64_t{INT32_MAX} + 1;
constexpr int32_t sequence_after(int32_t first, int64_t count) {
  return static_cast<int32_t>((int64_t{first} + count) % kSequenceSpace);
}

// Writes an idempotent producer's id, epoch and base sequence into a built
// batch and recomputes its CRC (they are inside it): how a producer
// renumbers a batch the broker proved it never wrote.
void stamp_producer(std::span<std::byte> batch, int64_t producer_id, int16_t producer_epoch,
                    int32_t base_sequence);

// Decodes a whole batch, accepting exactly what validate_batch accepts (the
// same record walk). `max_uncompressed_bytes` bounds decompression.
Result<std::vector<Record>> decode_batch(std::span<const std::byte> batch,
                                         size_t max_uncompressed_bytes = kMaxDecodedBatchBytes);

// Encodes records into one batch with base offset 0 (the broker stamps it).
// Not thread-safe; reusable after build() via reset().
class RecordBatchBuilder {
 public:
  explicit RecordBatchBuilder(Compression compression = Compression::none)
      : compression_(compression) {}

  void add(std::optional<std::string_view> key, std::optional<std::string_view> value,
           std::span<const RecordHeader> headers, int64_t timestamp_ms);

  // Idempotent producers: the id/epoch and the sequence of the first record.
  void set_producer(int64_t producer_id, int16_t producer_epoch, int32_t base_sequence);
  // Marks the batch a control batch (proto/control_batch.h): the broker's
  // own entries, never a client's, never handed to applications.
  void set_control() { control_ = true; }

  int32_t record_count() const { return record_count_; }
  bool empty() const { return record_count_ == 0; }
  // Uncompressed size of the batch so far, header included.
  size_t size_bytes() const;

  Result<std::string> build() const;
  void reset();

 private:
  Compression compression_;
  std::string records_;  // encoded records, uncompressed
  int32_t record_count_ = 0;
  int64_t base_timestamp_ms_ = 0;
  int64_t max_timestamp_ms_ = 0;
  int64_t producer_id_ = -1;
  int16_t producer_epoch_ = -1;
  int32_t base_sequence_ = -1;
  bool control_ = false;
};

}  // namespace cairn
