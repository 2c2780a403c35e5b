#include "storage/batch_scanner.h"

#include <algorithm>
#include <limits>

#include "proto/byte_io.h"
#include "proto/record_batch_format.h"

namespace cairn::storage {

// No request (cairnd --max-request-bytes, at most 1 GiB) carries a larger batch.
constexpr size_t kMaxPlausibleBatchBytes = size_t{1} << 30;

BatchScanner::BatchScanner(const File& file, uint64_t position, uint64_t end_position,
                           size_t read_ahead)
    : file_(file), position_(position), end_(end_position), read_ahead_(read_ahead),
      buffer_start_(position) {}

Status BatchScanner::fill(size_t bytes_needed) {
  uint64_t have_end = buffer_start_ + buffer_size_;
  if (position_ >= buffer_start_ && position_ + bytes_needed <= have_end) return {};
  size_t want = std::max(bytes_needed, read_ahead_);
  want = static_cast<size_t>(std::min<uint64_t>(want, end_ - position_));
  if (want > buffer_capacity_) {
    buffer_ = std::make_unique_for_overwrite<std::byte[]>(want);
    buffer_capacity_ = want;
  }
  buffer_start_ = position_;
  buffer_size_ = 0;
  auto n = file_.read(position_, std::span<std::byte>(buffer_.get(), want));
  if (!n.ok()) return n.status();
  buffer_size_ = *n;
  if (*n < bytes_needed) {
    return error(ErrorCode::corrupt_batch, "segment ends inside a batch at position {}", position_);
  }
  return {};
}

std::span<const std::byte> BatchScanner::buffered(size_t size) const {
  return {buffer_.get() + (position_ - buffer_start_), size};
}

Result<BatchHeader> BatchScanner::header_here() {
  uint64_t remaining = end_ - position_;
  if (remaining < batch_format::kHeaderSize) {
    torn_ = true;
    return error(ErrorCode::corrupt_batch, "torn batch header at position {} ({} bytes)", position_,
                 remaining);
  }
  CAIRN_RETURN_IF_ERROR(fill(batch_format::kHeaderSize));
  auto header = parse_batch_header(buffered(batch_format::kHeaderSize),
                                   std::numeric_limits<int32_t>::max());
  if (!header.ok()) {
    return error(ErrorCode::corrupt_batch, "at position {}: {}", position_,
                 header.status().message());
  }
  if (header->size_bytes() > remaining) {
    // A write cut short, unless no batch could be that long (bytes damaged).
    torn_ = header->size_bytes() <= kMaxPlausibleBatchBytes;
    return error(ErrorCode::corrupt_batch,
                 "torn batch at position {}: its header says {} bytes, {} remain", position_,
                 header->size_bytes(), remaining);
  }
  return header;
}

Result<std::optional<ScannedBatch>> BatchScanner::next(bool verify) {
  if (position_ >= end_) return std::optional<ScannedBatch>();
  auto header = header_here();
  if (!header.ok()) return header.status();
  size_t size = header->size_bytes();
  CAIRN_RETURN_IF_ERROR(fill(size));
  last_ = buffered(size);
  if (verify) {
    auto valid = check_batch_integrity(last_, size);
    if (!valid.ok()) {
      return error(ErrorCode::corrupt_batch, "at position {}: {}", position_,
                   valid.status().message());
    }
  }
  ScannedBatch batch{*header, position_};
  position_ += size;
  return std::optional<ScannedBatch>(batch);
}

Result<std::optional<ScannedBatch>> BatchScanner::next_header() {
  last_ = {};
  if (position_ >= end_) return std::optional<ScannedBatch>();
  auto header = header_here();
  if (!header.ok()) return header.status();
  ScannedBatch batch{*header, position_};
  position_ += header->size_bytes();
  return std::optional<ScannedBatch>(batch);
}

Result<std::optional<BatchHeader>> BatchScanner::peek_header() {
  if (position_ >= end_) return std::optional<BatchHeader>();
  auto header = header_here();
  if (!header.ok()) return header.status();
  return std::optional<BatchHeader>(*header);
}

std::span<const std::byte> BatchScanner::last_batch_bytes() const { return last_; }

}  // namespace cairn::storage
