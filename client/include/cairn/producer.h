#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cairn/client_options.h"
#include "cairn/compression.h"
#include "cairn/record.h"
#include "cairn/status.h"
#include "cairn/strong_int.h"

namespace cairn {

enum class Acks { none, leader, all };

// Producer settings; each documents its default.
struct ProducerOptions {
  ClientOptions client;
  // all (default): acknowledged once committed (durable); leader: once the
  // leader appended; none: fire and forget.
  Acks acks = Acks::all;
  // A partition's batch is sent when it reaches this many bytes... Default 64 KiB.
  int32_t batch_bytes = 64 * 1024;
  // ...or when its first record is this old, in ms. Default 5. While a
  // request of the partition is unanswered, an idempotent producer sends
  // another only with a full batch in it (as Nagle's rule keeps one small
  // segment unacknowledged): at a rate that fills no batch within a round
  // trip, records wait for that answer and leave together.
  int32_t linger_ms = 5;
  // Records without a key or partition stay on one partition until
  // batch_bytes of them went there and at least this many ms passed since
  // they moved to it; then they move to another at random. Each move
  // starts that partition's requests again from small ones, so moving
  // often costs latency. At 20 MB/s over 6 partitions (linger_ms 0, RF 3)
  // the end-to-end p99 was 8-10 ms moving every 64 KiB (3 ms), 6-7 ms
  // every 10 ms (librdkafka's sticky.partitioning.linger.ms) and 5-6 ms
  // every 25 ms, as with one partition. Default 25.
  int32_t sticky_partition_ms = 25;
  // Codec of each batch: none (default), lz4 or zstd.
  Compression compression = Compression::none;
  // Bytes of records waiting to be sent, at most; send() blocks beyond it
  // for up to max_block_ms, then fails with resource_exhausted. Default 64 MiB.
  int64_t buffer_bytes = 64LL << 20;
  int32_t max_block_ms = 60'000;
  // Produce requests in flight per broker. Default 16. A broker at the
  // limit holds up only the partitions it leads.
  int32_t max_in_flight_requests = 16;
  // A record not acknowledged within this many ms of send() fails with its
  // last error. Until then failures that may pass — the broker unreachable
  // or restarting (broker_unavailable, shutting_down), timeouts, not the
  // leader, too busy — are retried, pausing per ClientOptions::retry_backoff_ms
  // between attempts. Default 120000.
  int32_t delivery_timeout_ms = 120'000;
  // Idempotence (default on; with acks all or leader): the producer gets a
  // producer id from a broker and numbers its records per partition, so
  // the broker recognises a retried batch it wrote already and answers
  // with where it landed instead of writing it twice. Off, a retry after a
  // lost acknowledgement writes the batch again. docs/idempotence.md.
  bool enable_idempotence = true;
};

// A record to send, written with designated initializers:
//   ProducerRecord{.topic = "orders", .key = id, .value = json}
// Without a partition, records with a key go to murmur2(key) % partitions
// (Kafka's default partitioner); records without a key stick to one
// partition until batch_bytes of them went there and sticky_partition_ms
// passed, then to another, at random (Kafka's uniform sticky partitioner).
// A null value is a tombstone. (The {}
// let -Wextra builds leave fields out without a warning.)
struct ProducerRecord {
  std::string topic{};
  std::optional<std::string> key{};
  std::optional<std::string> value{};
  std::vector<RecordHeader> headers{};
  std::optional<int32_t> partition{};     // none: chosen as above
  std::optional<int64_t> timestamp_ms{};  // ms since the Unix epoch; none: now
};

// Where an acknowledged record landed.
struct RecordMetadata {
  std::string topic;
  int32_t partition = 0;
  Offset offset;
  int64_t timestamp_ms = 0;
};

using SendCallback = std::function<void(const Result<RecordMetadata>&)>;

// Sends records asynchronously, batched per partition, in order per
// partition. Thread-safe: any thread may send. Callbacks run on the
// producer's I/O thread and must not block.
//
// Delivery: at least once, without duplicates from retries while
// idempotent (ProducerOptions::enable_idempotence): a record acknowledged
// is in the log once, at the offset given, and in send order within its
// partition. A record whose send failed (delivery_timeout_ms passed) may
// or may not be in the log; one that failed with duplicate_sequence is in
// it once, at offsets not learned. Without idempotence, a retried batch whose
// first attempt did reach the broker (an acknowledgement lost, a
// timeout) is written twice.
class Producer {
 public:
  static Result<std::unique_ptr<Producer>> create(ProducerOptions options);
  virtual ~Producer() = default;  // close()s

  // Queues a record; `callback` gets where it landed or why it failed. Fails
  // at once (the callback runs before send returns) when the topic or
  // partition does not exist, or when the producer never had the topic's
  // metadata and no broker answers; a topic it knows is written to across a
  // broker restart, until delivery_timeout_ms.
  virtual void send(ProducerRecord record, SendCallback callback) = 0;
  std::future<Result<RecordMetadata>> send(ProducerRecord record);

  // Sends everything buffered now (as soon as the rules above let each
  // partition send) and waits until it is acknowledged or failed.
  virtual void flush() = 0;
  // flush(), then stops the I/O thread. Sends after close fail.
  virtual void close() = 0;
};

// Kafka's murmur2 hash and the partition it picks for a key.
uint32_t murmur2(std::string_view data);
int32_t partition_for_key(std::string_view key, int32_t partitions);

}  // namespace cairn
