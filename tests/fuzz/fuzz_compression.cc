// Fuzzes the codecs behind compressed batches (proto/compression.h): hostile
// input to decompress never crashes nor yields more than its bound, and
// compress → decompress gives the input back. The first byte picks the codec.
#include <string>

#include "proto/byte_io.h"
#include "proto/compression.h"
#include "proto/assert.h"

namespace {

using namespace cairn;

constexpr size_t kMaxOutputBytes = 1 << 16;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  Compression codec = (data[0] & 1) != 0 ? Compression::zstd : Compression::lz4;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

  auto inflated = decompress(codec, as_bytes(input), kMaxOutputBytes);
  CAIRN_ASSERT(inflated.ok() ? inflated->size() <= kMaxOutputBytes
                             : inflated.status().code() == ErrorCode::corrupt_batch ||
                                   inflated.status().code() == ErrorCode::record_too_large);

  auto compressed = compress(codec, input);
  CAIRN_ASSERT(compressed.ok());
  auto round_trip = decompress(codec, as_bytes(*compressed), input.size());
  CAIRN_ASSERT(round_trip.ok() && *round_trip == input);
  return 0;
}
