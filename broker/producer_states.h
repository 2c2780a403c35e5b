#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <unordered_map>

#include "proto/idempotence.h"
#include "proto/record_batch.h"
#include "proto/status.h"
#include "proto/topic_partition.h"
#include "storage/partition_log.h"

namespace cairn::broker {

// What one partition remembers of its idempotent producers (Kafka's
// producer state): per producer id, its epoch and where its last few
// batches landed. A retried batch is then answered with the offsets its
// first attempt got instead of being written twice; a sequence gap and an
// epoch older than one already seen are refused.
//
// Sequences count records per producer and partition, from 0, wrapping
// after INT32_MAX to 0 (RecordBatch v2's base sequence), and restart at 0
// in each new epoch. A producer id not remembered (new, or forgotten after
// expiration_ms without a write or with its batches deleted) must start at
// sequence 0 too: a gap is never accepted. The state is derived from the log alone: it
// is rebuilt by reading the batch headers (rebuild), never kept elsewhere
// where it could disagree with the log.
//
// Not thread-safe: the partition serialises its use.
class ProducerStates {
 public:
  // Batches remembered per producer: a retry of any of them is recognised,
  // so any batch of a producer's sends in flight is (kBatchesRemembered).
  static constexpr size_t kBatchesKept = kBatchesRemembered;

  ProducerStates(TopicPartition tp, int64_t expiration_ms)
      : tp_(std::move(tp)), expiration_ms_(expiration_ms) {}

  // The verdict on one append's batches (headers as the producer sent
  // them): nullopt if they are to be written; where they were written if
  // every one of them is a retry of a batch written before; an error
  // (out_of_order_sequence, invalid_producer_epoch, duplicate_sequence,
  // invalid_request) if they must be refused. Batches without a producer
  // id are always new.
  Result<std::optional<storage::AppendResult>> check(std::span<const BatchHeader> batches) const;

  // Remembers a batch as written: its header as stamped (base offset and
  // term set). `now_ms` counts towards its producer's expiration.
  void record(const BatchHeader& stamped, int64_t now_ms);

  // Rebuilds the state from every batch header of `log` (ProducerStates
  // derived from what the log holds, e.g. on a new leader). Every producer
  // found counts as having written at `now_ms`: batch timestamps are the
  // producers' to set (a backfill writes old ones), so they cannot say
  // when a batch was written.
  Status rebuild(const storage::PartitionLog& log, int64_t now_ms);

  // Forgets producers that wrote nothing for expiration_ms.
  void expire(int64_t now_ms);

  size_t producer_count() const { return producers_.size(); }

 private:
  struct WrittenBatch {
    int32_t first_sequence = 0;
    int32_t last_sequence = 0;
    Offset base_offset;
    Offset last_offset;
    Term term;
  };
  struct Producer {
    int16_t epoch = 0;
    std::deque<WrittenBatch> batches;  // oldest first, never empty
    int64_t last_write_ms = 0;
  };
  // Where a batch stands against its producer's remembered state.
  struct Standing {
    bool is_new = true;
    WrittenBatch original;  // when a retry
  };

  Result<Standing> standing(const BatchHeader& batch) const;

  const TopicPartition tp_;
  const int64_t expiration_ms_;
  std::unordered_map<int64_t, Producer> producers_;
};

}  // namespace cairn::broker
