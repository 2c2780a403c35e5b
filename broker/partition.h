#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>

#include "broker/producer_states.h"
#include "broker/read_waiters.h"
#include "broker/replication/replica.h"
#include "proto/status.h"
#include "proto/topic_partition.h"
#include "storage/log_config.h"
#include "storage/partition_log.h"

namespace cairn::broker {

// What an operator sees of a partition (DescribeTopics).
struct PartitionStats {
  Offset log_start;
  Offset high_watermark;
  Offset log_end;
  uint64_t size_bytes = 0;
  size_t segments = 0;
};

// A partition this broker serves: the one object produce, fetch, offsets,
// admin and the group coordinator talk to. It owns the log and the fetches
// waiting on it, and decides the term batches are stamped with and what
// "committed" means; nothing outside it reaches the PartitionLog.
//
// The high watermark is what readers may see and what acks=all waits for:
// every offset below it is committed. Served alone, that is the flushed
// offset (fsynced on this broker); served as a replica of a Raft group, it
// is the commit index + 1 (durable on a majority), appends go through
// consensus and only the leader takes them.
//
// Thread-safe, as the log is.
class Partition {
 public:
  using CommitCallback = std::function<void(Status)>;

  // Serves `log`, which must not be shared with another Partition.
  static std::shared_ptr<Partition> serve(TopicPartition tp,
                                          std::shared_ptr<storage::PartitionLog> log);
  // Serves `log` as one replica of a Raft group.
  static Result<std::shared_ptr<Partition>> serve_replicated(
      TopicPartition tp, std::shared_ptr<storage::PartitionLog> log, ReplicaSetup setup);
  Partition(const Partition&) = delete;
  Partition& operator=(const Partition&) = delete;

  const TopicPartition& tp() const { return tp_; }

  // Appends one request's batches, all or nothing (PartitionLog::append).
  // The records are readable, and acks=all may be answered, once committed
  // (when_committed). A replica that does not lead answers not_leader.
  // Batches of idempotent producers (a producer id in the header) are
  // checked against what the partition holds of them (ProducerStates): a
  // retry of batches written before is not written again, and the result
  // says where they were.
  //
  // `abandoned`, if given, is asked once an idempotent append holds the
  // partition's producer state: true (the producer gave up on the request,
  // and may since have learned that these batches were not written) refuses
  // it with request_timed_out, unwritten.
  Result<storage::AppendResult> append(std::span<const std::span<const std::byte>> batches,
                                       const std::function<bool()>& abandoned = {});
  Result<storage::AppendResult> append(std::span<const std::byte> batch) {
    return append({&batch, 1});
  }
  // A state machine's own batch (no producer id), appended only while this
  // replica leads in `term` (not_leader otherwise): a coordinator that
  // loaded its state from the log in `term` must not write state derived
  // from it in a later term of its own, after another leader changed it.
  // Served alone, `term` is nullopt.
  Result<storage::AppendResult> append_in_term(std::span<const std::byte> batch, std::optional<Term> term);

  // Calls `done` once everything `appended` holds is committed, with an
  // error if that can no longer happen (a failed sync, the partition
  // closed, or on a replica: leadership moved and its records may have been
  // replaced). It may run at once on the calling thread: call it holding no
  // lock `done` takes.
  void when_committed(const storage::AppendResult& appended, CommitCallback done);

  // Whole batches from the one holding `offset`, none at or past the high
  // watermark (see PartitionLog::read for `max_bytes` and `first`). A
  // replica that does not lead leaves out-of-range to the leader: an offset
  // past its log's end is not_leader (it may be behind, or repairing), and
  // so is damage it will repair from the others.
  Result<storage::ReadResult> read(
      Offset offset, size_t max_bytes,
      storage::FirstBatch first = storage::FirstBatch::always) const;

  Offset high_watermark() const {
    return replica_ ? replica_->high_watermark() : log_->flushed();
  }
  // The Raft replica; null when served alone.
  const std::shared_ptr<Replica>& replica() const { return replica_; }
  Offset log_start() const { return log_->log_start(); }
  Offset log_end() const { return log_->log_end(); }
  // The first offset whose batch's max timestamp is at or after
  // `timestamp_ms`; none if every record is older.
  Result<std::optional<Offset>> offset_for_time(int64_t timestamp_ms) const {
    return log_->offset_for_time(timestamp_ms);
  }
  PartitionStats stats() const;
  // Forgets the committed records below the batch boundary at or before
  // `offset` (a snapshot covers them); a replica's followers that still
  // need them jump to the new start (Raft's snapshot install).
  Status advance_start(Offset offset);

  // Fetches waiting for the high watermark to move.
  ReadWaiters& waiters() { return waiters_; }

  void set_config(const storage::LogConfig& config) { log_->set_config(config); }
  // Syncs everything appended so far now, rather than at the next group
  // commit (tests and tools); served alone, that commits it.
  Status commit_now() { return log_->flush_now(); }

 private:
  Partition(TopicPartition tp, std::shared_ptr<storage::PartitionLog> log);
  Result<storage::AppendResult> append_idempotent(
      std::span<const std::span<const std::byte>> batches, std::vector<BatchHeader> headers,
      const std::function<bool()>& abandoned);
  // The producer states, current for the log as this broker appends to it
  // now: rebuilt from the log on first use and, on a replica, for each term
  // it leads in (in `*term`). not_leader on a replica that does not lead.
  Result<ProducerStates*> producer_states_locked(std::optional<Term>* term);

  const TopicPartition tp_;
  const std::shared_ptr<storage::PartitionLog> log_;
  std::shared_ptr<Replica> replica_;  // set once, before the partition is shared
  ReadWaiters waiters_;

  std::mutex producers_mutex_;  // idempotent appends, one at a time
  std::unique_ptr<ProducerStates> producers_;  // none until the first idempotent append
  std::optional<Term> producers_term_;         // on a replica: the term they were rebuilt in
  int64_t producers_expired_ms_ = 0;           // when expire() last ran
};

}  // namespace cairn::broker
