#include "broker/partition.h"

#include <algorithm>

#include "proto/strong_int.h"

namespace cairn::broker {

// Without consensus there is one term: 0. Raft will stamp its own.
constexpr Term kSingleBrokerTerm{0};

std::shared_ptr<Partition> Partition::serve(TopicPartition tp,
                                            std::shared_ptr<storage::PartitionLog> log) {
  std::shared_ptr<Partition> partition(new Partition(std::move(tp), std::move(log)));
  // The store may flush the log after the partition is gone (topic deleted).
  std::weak_ptr<Partition> weak = partition;
  partition->log_->set_flushed_listener([weak](Offset) {
    if (auto strong = weak.lock()) strong->waiters_.wake_all();
  });
  return partition;
}

Result<std::shared_ptr<Partition>> Partition::serve_replicated(
    TopicPartition tp, std::shared_ptr<storage::PartitionLog> log, ReplicaSetup setup) {
  if (storage::compacts(log->config().cleanup_policy)) {
    // Compaction leaves offset gaps, which Raft's contiguous entries cannot
    // carry to a follower yet.
    return error(ErrorCode::invalid_config,
                 "{}: a compacted topic cannot be replicated yet; use cleanup.policy=delete", tp);
  }
  std::shared_ptr<Partition> partition(new Partition(tp, log));
  std::weak_ptr<Partition> weak = partition;
  auto replica = Replica::start(std::move(tp), std::move(log), std::move(setup), [weak](Offset) {
    if (auto strong = weak.lock()) strong->waiters_.wake_all();
  });
  if (!replica.ok()) return replica.status();
  partition->replica_ = std::move(*replica);
  return partition;
}

Partition::Partition(TopicPartition tp, std::shared_ptr<storage::PartitionLog> log)
    : tp_(std::move(tp)), log_(std::move(log)) {}

Result<storage::AppendResult> Partition::append(
    std::span<const std::span<const std::byte>> batches) {
  if (replica_) return replica_->propose(batches);
  return log_->append(batches, kSingleBrokerTerm);
}

void Partition::when_committed(const storage::AppendResult& appended, CommitCallback done) {
  Offset end = appended.last_offset + 1;
  if (replica_) return replica_->when_committed(end, appended.term, std::move(done));
  log_->when_flushed(end, std::move(done));
}

Result<storage::ReadResult> Partition::read(Offset offset, size_t max_bytes,
                                            storage::FirstBatch first) const {
  return log_->read(offset, max_bytes, high_watermark(), first);
}

PartitionStats Partition::stats() const {
  return {log_->log_start(), high_watermark(), log_->log_end(), log_->size_bytes(),
          log_->segment_count()};
}

Status Partition::advance_start(Offset offset) {
  offset = std::min({offset, high_watermark(), log_->flushed()});
  if (offset <= log_->log_start()) return {};
  if (offset < log_->log_end()) {
    auto batch = log_->batch_header_at(offset);
    if (!batch.ok()) return batch.status();
    offset = batch->base_offset;
  }
  return log_->advance_start(offset);  // between consensus calls (the replica's owner guard)
}

}  // namespace cairn::broker
