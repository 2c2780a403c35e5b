#pragma once

#include <string>
#include <string_view>

namespace cairn {

// Dead letters: records a share group gave up on, copied into the source
// topic's dead-letter topic with their original key, value and headers,
// and these headers naming where they came from and why (docs/queues.md).
namespace dead_letter {

constexpr std::string_view kSuffix = ".dlq";

// <topic>.dlq: where the records of `topic` that no worker could process go.
inline std::string topic_for(std::string_view topic) { return std::string(topic) + std::string(kSuffix); }

constexpr std::string_view kSourceTopic = "cairn.dlq.source.topic";
constexpr std::string_view kSourcePartition = "cairn.dlq.source.partition";
constexpr std::string_view kSourceOffset = "cairn.dlq.source.offset";
constexpr std::string_view kGroup = "cairn.dlq.group";
constexpr std::string_view kDeliveryCount = "cairn.dlq.delivery.count";
constexpr std::string_view kLastError = "cairn.dlq.last.error";
constexpr std::string_view kFirstDeliveryMs = "cairn.dlq.first.delivery.ms";
constexpr std::string_view kLastDeliveryMs = "cairn.dlq.last.delivery.ms";
// On a record redriven to its source: how many times it was, so far.
constexpr std::string_view kRedriveCount = "cairn.redrive.count";

// Whether a header is one dead-lettering added (dropped again on redrive).
inline bool is_dead_letter_header(std::string_view key) { return key.starts_with("cairn.dlq."); }

}  // namespace dead_letter
}  // namespace cairn
