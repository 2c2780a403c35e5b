#include "storage/batch_scanner.h"

#include <algorithm>
#include <limits>

#include "proto/byte_io.h"
#include "proto/record_batch_format.h"

namespace cairn::storage {

constexpr size_t kReadAheadBytes = 256 * 1024;

BatchScanner::BatchScanner(const File& file, uint64_t position, uint64_t end_position)
    : file_(file), position_(position), end_(end_position), buffer_start_(position) {}

Status BatchScanner::fill(size_t bytes_needed) {
  uint64_t have_end = buffer_start_ + buffer_.size();
  if (position_ >= buffer_start_ && position_ + bytes_needed <= have_end) return {};
  size_t want = std::max(bytes_needed, kReadAheadBytes);
  want = static_cast<size_t>(std::min<uint64_t>(want, end_ - position_));
  buffer_.resize(want);
  buffer_start_ = position_;
  auto n = file_.read(position_, as_writable_bytes(buffer_));
  if (!n.ok()) return n.status();
  buffer_.resize(*n);
  if (*n < bytes_needed) {
    return error(ErrorCode::corrupt_batch, "segment ends inside a batch at position {}", position_);
  }
  return {};
}

Result<std::optional<ScannedBatch>> BatchScanner::next(bool verify) {
  if (position_ >= end_) return std::optional<ScannedBatch>();
  uint64_t remaining = end_ - position_;
  if (remaining < batch_format::kHeaderSize) {
    return error(ErrorCode::corrupt_batch, "torn batch header at position {} ({} bytes)", position_,
                 remaining);
  }
  CAIRN_RETURN_IF_ERROR(fill(batch_format::kHeaderSize));
  auto at = as_bytes(buffer_).subspan(static_cast<size_t>(position_ - buffer_start_));
  auto header = parse_batch_header(at, std::numeric_limits<int32_t>::max());
  if (!header.ok()) {
    return error(ErrorCode::corrupt_batch, "at position {}: {}", position_,
                 header.status().message());
  }
  size_t size = header->size_bytes();
  if (size > remaining) {
    return error(ErrorCode::corrupt_batch,
                 "torn batch at position {}: its header says {} bytes, {} remain", position_, size,
                 remaining);
  }
  CAIRN_RETURN_IF_ERROR(fill(size));
  last_ = as_bytes(buffer_).subspan(static_cast<size_t>(position_ - buffer_start_), size);
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

std::span<const std::byte> BatchScanner::last_batch_bytes() const { return last_; }

}  // namespace cairn::storage
