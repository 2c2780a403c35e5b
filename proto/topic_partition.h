#pragma once

#include <fmt/format.h>

#include "cairn/topic_partition.h"
#include "proto/status.h"

// Prints topic/partition.
template <>
struct fmt::formatter<cairn::TopicPartition> : fmt::formatter<std::string_view> {
  auto format(const cairn::TopicPartition& tp, format_context& ctx) const {
    return fmt::format_to(ctx.out(), "{}/{}", tp.topic, tp.partition);
  }
};
