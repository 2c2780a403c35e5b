#pragma once

#include <fmt/format.h>

#include "cairn/strong_int.h"

// Lets fmt print an Offset or a Term as its number.
template <typename Tag>
struct fmt::formatter<cairn::StrongInt<Tag>> : fmt::formatter<int64_t> {
  auto format(cairn::StrongInt<Tag> v, format_context& ctx) const {
    return fmt::formatter<int64_t>::format(v.value, ctx);
  }
};
