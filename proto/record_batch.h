#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proto/compression.h"
#include "proto/status.h"
#include "proto/strong_int.h"

namespace cairn {

// One key/value pair attached to a record.
struct RecordHeader {
  std::string key;
  std::optional<std::string> value;
  bool operator==(const RecordHeader&) const = default;
};

// A decoded record. A null value is a tombstone (compacted topics).
struct Record {
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<RecordHeader> headers;
  int64_t timestamp_ms = 0;
  Offset offset;
  bool operator==(const Record&) const = default;
};

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
// length field is sane (≥ header, ≤ max). No CRC check: cheap, for scans.
Result<BatchHeader> parse_batch_header(std::span<const std::byte> bytes, size_t max_batch_bytes);

// Checks everything the store relies on before it writes or after it reads a
// batch: exact size, magic, CRC-32C, record count vs offset delta, timestamps.
// Does not decode records.
Result<BatchHeader> validate_batch(std::span<const std::byte> batch, size_t max_batch_bytes);

// Writes base offset and leader epoch (outside the CRC) into a batch.
void stamp_batch(std::span<std::byte> batch, Offset base_offset, Term leader_epoch);

// Decodes a whole, valid batch (CRC verified, records decompressed).
// `max_uncompressed_bytes` bounds decompression.
Result<std::vector<Record>> decode_batch(std::span<const std::byte> batch,
                                         size_t max_uncompressed_bytes = 64 << 20);

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
};

}  // namespace cairn
