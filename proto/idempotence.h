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
// most. As Nagle's rule keeps one small segment unacknowledged, a send
// goes beside another only with a full batch queued, and beyond
// kMaxSendsInFlightOfFullBatches only as a full send (kMaxBatchesPerSend
// batches) up to kMaxSendsInFlight.
// - A second send lets the next request travel while the broker appends
//   and syncs the first: one broker at 1 KiB acks=all, one partition,
//   274-301 MB/s with one and 444-451 MB/s with two; replication 3: 86-89
//   and 120-123 MB/s.
// - Four full ones keep a fast disk busy (607 -> 685 MB/s mean of 6 runs,
//   group commit 1,486 MB/s).
// - At a rate that never fills a batch within a round trip, a second send
//   only makes more, smaller requests: each costs every replica a message
//   and a sync. Replication 3 at 20 MB/s: 3,600-5,200 requests a run
//   instead of 5,200-7,200, the brokers' CPU 119-132% -> 106-111% of a
//   core; end to end, median p50 3.3 -> 2.6 ms and p99 6.9 -> 5.1 ms with
//   6 partitions, 3.1 -> 3.0 and 5.6 -> 5.4 ms with 1 (docs/idempotence.md).
inline constexpr size_t kMaxSendsInFlightOfFullBatches = 2;
inline constexpr size_t kMaxSendsInFlight = 4;

// The batches of each idempotent producer a broker remembers per partition
// (ProducerStates): a retry may carry any batch of the sends in flight.
inline constexpr size_t kBatchesRemembered = kMaxBatchesPerSend * kMaxSendsInFlight;

}  // namespace cairn
