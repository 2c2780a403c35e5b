#pragma once

#include <span>
#include <string>
#include <string_view>

#include "cairn/compression.h"
#include "proto/status.h"

namespace cairn {

// Compresses `input` (lz4: LZ4 frame format, as Kafka; zstd: a zstd frame).
Result<std::string> compress(Compression codec, std::string_view input);

// Decompresses; refuses (record_too_large) to produce more than
// `max_output_bytes`, so a small hostile input cannot expand without bound.
// A malformed or truncated stream is corrupt_batch.
Result<std::string> decompress(Compression codec, std::span<const std::byte> input,
                               size_t max_output_bytes);

}  // namespace cairn
