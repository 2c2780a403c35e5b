#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "cairn/producer.h"
#include "proto/idempotence.h"
#include "proto/record_batch.h"
#include "cluster.h"
#include "proto/record_batch_format.h"

// The producer's units of sending: a batch of a partition's records, the
// batches of a partition that travel in one request, and a partition's
// queue of batches with the rule that keeps their order.
namespace cairn::client {

// Records bound for one partition, sent as one record batch.
struct Batch {
  TopicPartition tp;
  RecordBatchBuilder builder;
  std::vector<SendCallback> callbacks;
  std::vector<int64_t> timestamps;
  // Built at the first send, reused by retries. Requests in flight share
  // it (ProduceRequestBuffer): stamping a shared one copies it first.
  std::shared_ptr<std::string> encoded;
  int64_t created_ms = 0;   // steady clock
  int64_t deadline_ms = 0;  // steady clock: delivery timeout
  int64_t retry_at_ms = 0;
  int32_t attempts = 0;     // sends that failed
  int64_t reserved_bytes = 0;
  bool closed = false;      // takes no more records

  // Idempotence (docs/idempotence.md): stamped into `encoded` by the
  // sender, in the partition's order, just before its first send. A
  // stamp's generation is the producer's (id, epoch) it was made under.
  bool stamped = false;
  uint64_t generation = 0;
  int32_t base_sequence = 0;
  // Sent, and not proven unwritten since (out_of_order_sequence,
  // invalid_producer_epoch): it may be in the log under its stamp, so
  // every retry must carry that stamp unchanged.
  bool maybe_written = false;
  // Proven in the log under its stamp (before a batch that landed, or so
  // the broker said): if it fails, it fails as duplicate_sequence, and
  // the stamps after it stand.
  bool proven_written = false;

  int32_t record_count() const { return static_cast<int32_t>(callbacks.size()); }
};

// A record's bytes in a batch beyond its key, value and header fields, at
// most: its varints (length, timestamp and offset deltas, key and value
// lengths, header count) at their longest; and per header, two lengths.
constexpr int64_t kMaxRecordFramingBytes = 36;
constexpr int64_t kMaxHeaderFramingBytes = 10;
// A produce request carries at most this much, whatever the batches (less
// when the brokers accept less).
constexpr size_t kMaxRequestBytes = 8 << 20;
// A request's bytes besides its entries, and an entry's besides its batch
// and topic name (protobuf tags and varints), at most.
constexpr size_t kRequestOverheadBytes = 64;
constexpr size_t kEntryOverheadBytes = 32;
static_assert(kRequestOverheadBytes + kEntryOverheadBytes + kMaxTopicNameLength +
                  batch_format::kHeaderSize < kMinMaxMessageBytes,
              "the smallest request limit must leave room for a record");

// The bytes `record` takes in an uncompressed batch, at most.
int64_t record_bytes(const ProducerRecord& record);

// A partition's batches that travel in one produce request, oldest first:
// at most kMaxBatchesPerSend (proto/idempotence.h).
struct PartitionSend {
  TopicPartition tp;
  std::vector<std::unique_ptr<Batch>> batches;
  uint64_t order = 0;  // PartitionQueue::sends_taken when it was taken
};

// A send whose answer came (or that failed as a whole), with each batch's
// outcome: its base offset or why it did not land.
struct FinishedSend {
  PartitionSend send;
  std::vector<Result<Offset>> outcomes;
};

// An encoded batch's bytes in a request, at most.
size_t entry_bytes(const Batch& batch);
// The bytes of a send's entries in a request, at most.
size_t request_bytes(const PartitionSend& send);

// The records bound for one partition, oldest batch first. Its own lock, so
// that send() on the caller's thread rarely meets the sender or the
// acknowledgement threads.
//
// Order: a partition's batches leave in order, as PartitionSends that each
// fit in one request. An idempotent producer keeps up to kMaxSendsInFlight
// of them in flight (`in_flight`), others one. A send that landed is
// acknowledged once every older send has been settled (callbacks run in
// send order, but for a batch retried after a lost answer: it is
// acknowledged after the later batches that landed meanwhile, though its
// records are before theirs in the log); until then it waits in `finished`. A send that fails, and every
// send of the partition that finishes after it, waits there too (the
// partition sends nothing new: `settling`) until none is in flight; then
// they are settled together in send order as if they were one send: each
// batch acknowledged, failed, or back at the front of `batches` (oldest
// first, before anything newer) to be retried. The broker appends a
// partition's batches in the order they arrive, and a failed batch is
// retried only if no later batch landed (else it fails: a retry would land
// after them) or if it is idempotent (then it landed too, and its retry is
// answered with where). So a partition's records land in send order,
// across splits and retries. With several sends in flight, the broker's sequence check
// refuses a send whose predecessor did not land (out_of_order_sequence),
// so none can land ahead of a failed one; without idempotence there is no
// such check, hence one send at a time.
//
// Idempotence: a partition's batches are numbered (stamped) in that order,
// and the sends in flight carry batches of one stamp generation only, so a
// batch of a new epoch (which the broker accepts from sequence 0) can never
// land before an older batch still being retried.
inline constexpr uint64_t kNoGeneration = ~uint64_t{0};

struct PartitionQueue {
  explicit PartitionQueue(TopicPartition partition) : tp(std::move(partition)) {}
  const TopicPartition tp;
  std::mutex mutex;
  std::deque<std::unique_ptr<Batch>> batches;
  std::vector<uint64_t> in_flight;      // the sends taken and not finished, oldest first
  bool settling = false;                // a send failed: no new sends until it is settled
  bool draining = false;                // a thread is settling `finished` (one at a time)
  std::vector<FinishedSend> finished;   // waiting for the sends still in flight
  uint64_t sends_taken = 0;             // numbers sends, to settle them in order
  // The stamp generation of the sends in flight; kNoGeneration while
  // they carry a retry (nothing may join them).
  uint64_t in_flight_generation = 0;
  uint64_t generation = 0;    // of next_sequence
  int32_t next_sequence = 0;  // the next stamp's first sequence in that generation
};

}  // namespace cairn::client
