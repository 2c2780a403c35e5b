#pragma once

// Test-only helpers (unit tests and fuzz targets) that build batches a
// correct producer never would: the header consistent and the CRC right, but
// the records section chosen by the test, so each check of the record walk
// can be made to fire alone.

#include <string>
#include <string_view>

#include "proto/byte_io.h"
#include "proto/crc32c.h"
#include "proto/record_batch.h"
#include "proto/record_batch_format.h"

namespace cairn::testing {

// Sets `batch`'s length field to its size and recomputes its CRC, whatever
// the rest says; a batch shorter than a header is left as it is.
inline void reseal(std::string& batch) {
  namespace bf = batch_format;
  if (batch.size() < bf::kHeaderSize) return;
  auto b = as_writable_bytes(batch);
  store_be<int32_t>(&b[bf::kBatchLengthPos], static_cast<int32_t>(batch.size() - bf::kLengthFieldEnd));
  store_be<uint32_t>(&b[bf::kCrcPos], crc32c::value(b.subspan(bf::kCrcStart)));
}

// The records section of `batch` (compressed if its codec is not none).
inline std::string_view records_section(std::string_view batch) {
  return batch.substr(batch_format::kHeaderSize);
}

// `batch` with its records section replaced by `records`, its record count
// and last offset delta set to match `count`, resealed.
inline std::string with_records(std::string_view batch, std::string_view records,
                                int32_t count) {
  namespace bf = batch_format;
  std::string out(batch.substr(0, bf::kHeaderSize));
  out.append(records);
  auto b = as_writable_bytes(out);
  store_be<int32_t>(&b[bf::kLastOffsetDeltaPos], count - 1);
  store_be<int32_t>(&b[bf::kRecordCountPos], count);
  reseal(out);
  return out;
}

// `batch` with the fixed-width header field at `pos` set to `value`, resealed.
template <typename T>
std::string with_field(std::string batch, size_t pos, T value) {
  store_be<T>(&as_writable_bytes(batch)[pos], value);
  reseal(batch);
  return batch;
}

}  // namespace cairn::testing
