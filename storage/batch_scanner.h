#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

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
  // Each read from the file asks for at least `read_ahead` bytes (never past
  // `end_position`): large for walks over whole batches, the header size
  // for header-only walks.
  static constexpr size_t kDefaultReadAhead = 256 * 1024;
  // What zeros where a batch should start are. Only a scan to the end of
  // the file may find zeros written ahead (File::zero_ahead); inside the
  // bytes a log holds, zeros are damage (a lost write).
  enum class Zeros { damage, end_of_data };
  BatchScanner(const File& file, uint64_t position, uint64_t end_position,
               size_t read_ahead = kDefaultReadAhead, Zeros zeros = Zeros::damage);

  // The next batch, its CRC verified when `verify`; nullopt at the clean end,
  // which is the range's end or, with Zeros::end_of_data, zeros up to it; a
  // corrupt_batch error at a torn or damaged batch (position() is its start).
  Result<std::optional<ScannedBatch>> next(bool verify);
  // As next(), but reads only the header and steps over the rest: for
  // finding a batch, not reading it. last_batch_bytes() is then empty.
  Result<std::optional<ScannedBatch>> next_header();
  // The next batch's header without moving past it (nullopt at the end): to
  // stop before a batch without reading, or verifying, its bytes.
  Result<std::optional<BatchHeader>> peek_header();

  // The bytes of the batch last returned by next() (valid until the next call).
  std::span<const std::byte> last_batch_bytes() const;

  uint64_t position() const { return position_; }
  // After an error: whether it was a batch cut short by the end of the
  // range (a write a crash interrupted), rather than bytes that are wrong.
  bool stopped_at_torn_tail() const { return torn_; }
  // At the clean end: how many bytes of zeros written ahead it stepped over.
  uint64_t zeroed_tail_bytes() const { return zeroed_tail_bytes_; }

 private:
  Status fill(size_t bytes_needed);
  // Whether the data ends here: at end_, or zeros from here to end_. A
  // header of zeros with other bytes later is damage, an error.
  Result<bool> at_end();
  // Whether the batch of `size` bytes at position_, which failed its CRC,
  // is a write that a crash cut short in space written ahead.
  bool cut_short_in_zeros(size_t size) const;
  // Where the first byte other than zero is in [at, end_), if any.
  Result<std::optional<uint64_t>> first_nonzero_from(uint64_t at) const;
  // The header at position_, checked to fit in what remains; its size in bytes.
  Result<BatchHeader> header_here();
  std::span<const std::byte> buffered(size_t size) const;

  const File& file_;
  uint64_t position_;
  uint64_t end_;
  size_t read_ahead_;
  Zeros zeros_;
  // File bytes [buffer_start_, buffer_start_ + buffer_size_); never
  // zero-filled before a read overwrites it.
  std::unique_ptr<std::byte[]> buffer_;
  size_t buffer_capacity_ = 0;
  size_t buffer_size_ = 0;
  uint64_t buffer_start_ = 0;
  std::span<const std::byte> last_;
  bool torn_ = false;
  uint64_t zeroed_tail_bytes_ = 0;
};

}  // namespace cairn::storage
