#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "proto/status.h"

namespace cairn {

// The codec of a batch's records section, stored in the low 3 bits of the
// batch attributes. Values are Kafka's.
enum class Compression : uint8_t { none = 0, gzip = 1, snappy = 2, lz4 = 3, zstd = 4 };

std::string_view compression_name(Compression c);
// Parses "none", "lz4" or "zstd" (the codecs Cairn writes).
Result<Compression> parse_compression(std::string_view name);

// Compresses `input` (lz4: LZ4 frame format, as Kafka; zstd: a zstd frame).
Result<std::string> compress(Compression codec, std::string_view input);

// Decompresses; refuses (record_too_large) to produce more than
// `max_output_bytes`, so a small hostile input cannot expand without bound.
// A malformed or truncated stream is corrupt_batch.
Result<std::string> decompress(Compression codec, std::span<const std::byte> input,
                               size_t max_output_bytes);

}  // namespace cairn
