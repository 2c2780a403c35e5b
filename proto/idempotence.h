#pragma once

#include <cstddef>

namespace cairn {

// A partition's batches in one produce request, at most, and so the
// batches of each idempotent producer a broker remembers per partition
// (ProducerStates): a retry of any batch of the last request must be
// recognised and answered with its offsets. The producer keeps one request
// of a partition in flight, so this bounds how much of it one round trip
// carries: 20 batches of the default 64 KiB are 1.25 MiB. Fewer left a
// partition idle between round trips (5, as Kafka keeps: half the
// throughput of one broker at 1 KiB acks=all); many more delay the
// broker's first append until a whole large request has arrived, and
// gain nothing (docs/idempotence.md).
inline constexpr size_t kMaxBatchesPerSend = 20;

}  // namespace cairn
