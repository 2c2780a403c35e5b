#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace cairn::crc32c {

// CRC-32C (Castagnoli), the checksum of Kafka's RecordBatch v2, computed by
// Intel ISA-L (libisal), which picks the fastest kernel for the CPU.
uint32_t extend(uint32_t crc, std::span<const std::byte> data);

inline uint32_t value(std::span<const std::byte> data) { return extend(0, data); }

}  // namespace cairn::crc32c
