#include "storage/batch_scanner.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "proto/byte_io.h"
#include "proto/record_batch_format.h"

namespace cairn::storage {

// No request (cairnd --max-request-bytes, at most 1 GiB) carries a larger batch.
constexpr size_t kMaxPlausibleBatchBytes = size_t{1} << 30;

BatchScanner::BatchScanner(const File& file, uint64_t position, uint64_t end_position,
                           size_t read_ahead, Zeros zeros)
    : file_(file), position_(position), end_(end_position), read_ahead_(read_ahead), zeros_(zeros),
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

Result<std::optional<uint64_t>> BatchScanner::first_nonzero_from(uint64_t at) const {
  std::vector<std::byte> chunk(64 * 1024);
  while (at < end_) {
    auto want = static_cast<size_t>(std::min<uint64_t>(chunk.size(), end_ - at));
    auto n = file_.read(at, std::span<std::byte>(chunk.data(), want));
    if (!n.ok()) return n.status();
    if (*n == 0) break;  // the file is shorter than the range
    auto read = std::span<const std::byte>(chunk.data(), *n);
    auto other = std::find_if(read.begin(), read.end(), [](std::byte b) { return b != std::byte{0}; });
    if (other != read.end()) return std::optional<uint64_t>(at + static_cast<uint64_t>(other - read.begin()));
    at += *n;
  }
  return std::optional<uint64_t>();
}

bool BatchScanner::cut_short_in_zeros(size_t size) const {
  // A write lands on the disk in whole sectors: the batch's bytes are zeros
  // from a sector boundary on, and zeros follow it. (A flipped bit in a
  // batch that happens to end in zeros is not that.)
  constexpr uint64_t kSectorBytes = 512;
  auto nonzero = [](std::byte b) { return b != std::byte{0}; };
  auto last = std::find_if(last_.rbegin(), last_.rend(), nonzero);
  uint64_t zeros_from = position_ + static_cast<uint64_t>(last_.rend() - last);
  uint64_t sector = (zeros_from + kSectorBytes - 1) / kSectorBytes * kSectorBytes;
  if (sector >= position_ + size || position_ + size >= end_) return false;
  auto after = first_nonzero_from(position_ + size);
  return after.ok() && !*after;
}

Result<bool> BatchScanner::at_end() {
  if (position_ >= end_) return true;
  if (zeros_ == Zeros::damage) return false;
  // No batch header is all zeros: its length and magic never are.
  auto head = static_cast<size_t>(std::min<uint64_t>(batch_format::kHeaderSize, end_ - position_));
  CAIRN_RETURN_IF_ERROR(fill(head));
  auto bytes = buffered(head);
  if (std::any_of(bytes.begin(), bytes.end(), [](std::byte b) { return b != std::byte{0}; })) return false;
  auto other = first_nonzero_from(position_ + head);
  if (!other.ok()) return other.status();
  if (*other) {
    return error(ErrorCode::corrupt_batch, "at position {}: zeros, then other bytes at position {}",
                 position_, **other);
  }
  zeroed_tail_bytes_ = end_ - position_;
  return true;
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
  auto end = at_end();
  if (!end.ok()) return end.status();
  if (*end) return std::optional<ScannedBatch>();
  auto header = header_here();
  if (!header.ok()) return header.status();
  size_t size = header->size_bytes();
  CAIRN_RETURN_IF_ERROR(fill(size));
  last_ = buffered(size);
  if (verify) {
    auto valid = check_batch_integrity(last_, size);
    if (!valid.ok()) {
      torn_ = zeros_ == Zeros::end_of_data && cut_short_in_zeros(size);
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
  auto end = at_end();
  if (!end.ok()) return end.status();
  if (*end) return std::optional<ScannedBatch>();
  auto header = header_here();
  if (!header.ok()) return header.status();
  ScannedBatch batch{*header, position_};
  position_ += header->size_bytes();
  return std::optional<ScannedBatch>(batch);
}

Result<std::optional<BatchHeader>> BatchScanner::peek_header() {
  auto end = at_end();
  if (!end.ok()) return end.status();
  if (*end) return std::optional<BatchHeader>();
  auto header = header_here();
  if (!header.ok()) return header.status();
  return std::optional<BatchHeader>(*header);
}

std::span<const std::byte> BatchScanner::last_batch_bytes() const { return last_; }

}  // namespace cairn::storage
