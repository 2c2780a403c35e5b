#pragma once

#include <cstddef>

namespace cairn {

// A partition's batches in one produce request, at most: 20 batches of the
// default 64 KiB are 1.25 MiB. Fewer left a partition idle between round
// trips (5, as Kafka keeps: half the throughput of one broker at 1 KiB
// acks=all); many more delay the broker's first append until a whole large
// request has arrived, and gain nothing (docs/idempotence.md).
inline constexpr size_t kMaxBatchesPerSend = 20;

// An idempotent producer's sends of a partition in flight at once, at
// most. One left the partition idle while each request was appended and
// synced: one broker at 1 KiB acks=all, one partition, 274-301 MB/s with
// one and 444-451 MB/s with two; replication 3: 86-89 and 120-123 MB/s.
inline constexpr size_t kMaxSendsInFlight = 2;

// The batches of each idempotent producer a broker remembers per partition
// (ProducerStates): a retry may carry any batch of the sends in flight.
inline constexpr size_t kBatchesRemembered = kMaxBatchesPerSend * kMaxSendsInFlight;

}  // namespace cairn
