#pragma once

#include <cstdint>
#include <string_view>

#include "cairn/status.h"

namespace cairn {

// The codec of a batch's records section, stored in the low 3 bits of the
// batch attributes. Values are Kafka's.
enum class Compression : uint8_t { none = 0, gzip = 1, snappy = 2, lz4 = 3, zstd = 4 };

std::string_view compression_name(Compression c);
// Parses "none", "lz4" or "zstd" (the codecs Cairn writes).
Result<Compression> parse_compression(std::string_view name);

}  // namespace cairn
