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
// most: kMaxSendsInFlightAnySize of any size, and more up to
// kMaxSendsInFlight only while full ones (kMaxBatchesPerSend batches)
// wait. One left the partition idle while each request was appended and
// synced: one broker at 1 KiB acks=all, one partition, 274-301 MB/s with
// one and 444-451 MB/s with two; replication 3: 86-89 and 120-123 MB/s.
// Four full ones keep a fast disk busy (607 -> 685 MB/s mean of 6 runs,
// group commit 1,486 MB/s); at a rate that never fills a send, more sends
// in flight would only make more, smaller requests (docs/idempotence.md).
inline constexpr size_t kMaxSendsInFlightAnySize = 2;
inline constexpr size_t kMaxSendsInFlight = 4;

// The batches of each idempotent producer a broker remembers per partition
// (ProducerStates): a retry may carry any batch of the sends in flight.
inline constexpr size_t kBatchesRemembered = kMaxBatchesPerSend * kMaxSendsInFlight;

}  // namespace cairn
