#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
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
  std::string encoded;    // built at the first send, reused by retries
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
};

// An encoded batch's bytes in a request, at most.
size_t entry_bytes(const Batch& batch);
// The bytes of a send's entries in a request, at most.
size_t request_bytes(const PartitionSend& send);

// The records bound for one partition, oldest batch first. Its own lock, so
// that send() on the caller's thread rarely meets the sender or the
// acknowledgement threads.
//
// Order: at most one request carries a partition's batches at a time
// (`in_flight`), as one PartitionSend that fits in it. The flag clears only
// once that send is settled: each batch acknowledged, failed, or back at the
// front of `batches` (oldest first, before anything newer) to be retried.
// The broker appends a request's batches of a partition in order, and a
// failed batch is retried only if no later batch of its send landed (else it
// fails: a retry would land after them). So a partition's records land in
// send order, across splits and retries. Several requests of a partition in
// flight could not promise that: without broker-side sequence numbers a
// refused request cannot be put back before a later one that landed. The
// cost is a round trip per request's worth (kMaxBatchesPerSend batches, at
// most kMaxRequestBytes) of a partition's backlog.
//
// Idempotence: a partition's batches are numbered (stamped) in that order,
// and a send carries batches of one stamp generation only, so a batch of a
// new epoch (which the broker accepts from sequence 0) can never land
// before an older batch still being retried.
struct PartitionQueue {
  std::mutex mutex;
  std::deque<std::unique_ptr<Batch>> batches;
  bool in_flight = false;
  uint64_t generation = 0;    // of next_sequence
  int32_t next_sequence = 0;  // the next stamp's first sequence in that generation
};

}  // namespace cairn::client
