#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "proto/record_batch.h"
#include "storage/env.h"

namespace cairn::storage {

// A batch found in a segment file.
struct ScannedBatch {
  BatchHeader header;
  uint64_t position = 0;  // byte position of its first byte in the file
};

// Walks the batches of a segment file from a position, through a read-ahead
// buffer. Every length is checked against the bytes that remain, so a torn or
// corrupt tail ends the scan with an error instead of a wild read.
// Not thread-safe; `file` must outlive the scanner.
class BatchScanner {
 public:
  BatchScanner(const File& file, uint64_t position, uint64_t end_position);

  // The next batch, its CRC verified when `verify`; nullopt at the clean end;
  // a corrupt_batch error at a torn or damaged batch (position() is its start).
  Result<std::optional<ScannedBatch>> next(bool verify);

  // The bytes of the batch last returned (valid until the next call).
  std::span<const std::byte> last_batch_bytes() const;

  uint64_t position() const { return position_; }

 private:
  Status fill(size_t bytes_needed);

  const File& file_;
  uint64_t position_;
  uint64_t end_;
  std::string buffer_;        // file bytes [buffer_start_, buffer_start_ + buffer_.size())
  uint64_t buffer_start_ = 0;
  std::span<const std::byte> last_;
};

}  // namespace cairn::storage
