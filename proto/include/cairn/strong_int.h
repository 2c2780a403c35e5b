#pragma once

#include <compare>
#include <cstdint>
#include <limits>

namespace cairn {

// An int64 that does not mix with other int64s: an Offset is not a Term is
// not a byte count. Arithmetic with plain deltas stays natural
// (offset + count, offset - offset -> int64).
template <typename Tag>
struct StrongInt {
  int64_t value = 0;

  constexpr StrongInt() = default;
  constexpr explicit StrongInt(int64_t v) : value(v) {}

  constexpr auto operator<=>(const StrongInt&) const = default;
  constexpr StrongInt operator+(int64_t delta) const { return StrongInt(value + delta); }
  constexpr StrongInt operator-(int64_t delta) const { return StrongInt(value - delta); }
  constexpr int64_t operator-(StrongInt other) const { return value - other.value; }
  constexpr StrongInt& operator+=(int64_t delta) { value += delta; return *this; }
  constexpr StrongInt& operator++() { ++value; return *this; }

  static constexpr StrongInt max() { return StrongInt(std::numeric_limits<int64_t>::max()); }
};

// Position of a record in a partition's log; the first record ever is 0.
using Offset = StrongInt<struct OffsetTag>;
// A Raft term; stamped into every batch as its partition leader epoch.
using Term = StrongInt<struct TermTag>;

}  // namespace cairn
