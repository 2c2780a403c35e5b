#include "proto/crc32c.h"

#include <isa-l/crc.h>

#include <algorithm>
#include <climits>

namespace cairn::crc32c {

// ISA-L's crc32_iscsi is CRC-32C without the customary pre- and
// post-inversion; it picks the fastest kernel for the CPU at load time
// (≈ 3 bytes per cycle with PCLMUL folding, several times a plain loop).
uint32_t extend(uint32_t crc, std::span<const std::byte> data) {
  auto* p = reinterpret_cast<unsigned char*>(const_cast<std::byte*>(data.data()));
  size_t left = data.size();
  uint32_t state = ~crc;
  while (left > 0) {
    int n = static_cast<int>(std::min<size_t>(left, INT_MAX));
    state = crc32_iscsi(p, n, state);
    p += n;
    left -= static_cast<size_t>(n);
  }
  return ~state;
}

}  // namespace cairn::crc32c
