#include "broker/partition.h"

#include <algorithm>
#include <chrono>
#include <limits>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "proto/assert.h"
#include "storage/clock.h"

#include "proto/strong_int.h"

namespace cairn::broker {

// Without consensus there is one term: 0. Raft will stamp its own.
constexpr Term kSingleBrokerTerm{0};
// An idempotent producer that wrote nothing to a partition for this long is
// forgotten there (Kafka's producer.id.expiration.ms); checked this often.
constexpr int64_t kProducerIdExpirationMs = 24LL * 3600 * 1000;
constexpr int64_t kProducerExpiryIntervalMs = 60'000;

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
    std::span<const std::span<const std::byte>> batches, const std::function<bool()>& abandoned) {
  std::vector<BatchHeader> headers;
  headers.reserve(batches.size());
  bool idempotent = false;
  for (auto batch : batches) {
    // Only the header, to route the append; the log validates the batch whole.
    auto header = parse_batch_header(batch, std::numeric_limits<int32_t>::max());
    if (!header.ok()) return header.status();
    idempotent = idempotent || header->producer_id >= 0;
    headers.push_back(*header);
  }
  if (idempotent) return append_idempotent(batches, std::move(headers), abandoned);
  if (replica_) return replica_->propose(batches);
  return log_->append(batches, kSingleBrokerTerm);
}

Result<storage::AppendResult> Partition::append_in_term(std::span<const std::byte> batch, std::optional<Term> term) {
  if (replica_) {
    CAIRN_ASSERT(term.has_value());
    return replica_->propose({&batch, 1}, term);
  }
  return log_->append({&batch, 1}, kSingleBrokerTerm);
}

Result<ProducerStates*> Partition::producer_states_locked(std::optional<Term>* term) {
  if (replica_) {
    *term = replica_->leading_term();
    if (!*term) {
      auto leader = replica_->leader();
      return error(ErrorCode::not_leader, "{}: broker {} is not the leader; {}", tp_,
                   replica_->self(), leader ? fmt::format("broker {} is", *leader) : "none is known yet");
    }
  }
  if (!producers_ || producers_term_ != *term) {
    // A leader's log is final up to its end for its term (Raft never
    // truncates a leader's own log), so what it holds of each producer is
    // what every retry must be checked against.
    auto rebuilt = std::make_unique<ProducerStates>(tp_, kProducerIdExpirationMs);
    auto started = std::chrono::steady_clock::now();
    CAIRN_RETURN_IF_ERROR(rebuilt->rebuild(*log_, storage::Clock::steady_wall().now_ms()));
    spdlog::info("{}: rebuilt the state of {} idempotent producer(s) from the log in {} ms", tp_,
                 rebuilt->producer_count(),
                 std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count());
    producers_ = std::move(rebuilt);
    producers_term_ = *term;
  }
  return producers_.get();
}

Result<storage::AppendResult> Partition::append_idempotent(
    std::span<const std::span<const std::byte>> batches, std::vector<BatchHeader> headers,
    const std::function<bool()>& abandoned) {
  std::lock_guard lock(producers_mutex_);
  // Checked here, after waiting for the state (a rebuild may take long): a
  // producer that gave up on this request may already have been told a
  // later batch is out of order and renumbered it, so writing this one now
  // could write that later batch twice.
  if (abandoned && abandoned()) {
    return error(ErrorCode::request_timed_out, "{}: the producer gave up on this request; not written", tp_);
  }
  std::optional<Term> term;
  auto producers = producer_states_locked(&term);
  if (!producers.ok()) return producers.status();
  // Producer state expires by time a step of the wall clock does not move.
  int64_t now = storage::Clock::steady_wall().now_ms();
  if (now - producers_expired_ms_ > kProducerExpiryIntervalMs) {
    (*producers)->expire(now);
    producers_expired_ms_ = now;
  }
  auto retried = (*producers)->check(headers);
  if (!retried.ok()) return retried.status();
  if (*retried) {
    // Answered only for the very batches written: a damaged copy is refused.
    auto checked = log_->check_batches(batches);
    if (!checked.ok()) return checked.status();
    (*retried)->append_time_ms = now;
    return **retried;
  }
  auto appended = replica_ ? replica_->propose(batches, term) : log_->append(batches, kSingleBrokerTerm);
  if (!appended.ok()) return appended;
  Offset base = appended->base_offset;
  for (BatchHeader& header : headers) {
    header.base_offset = base;
    header.leader_epoch = appended->term;
    (*producers)->record(header, now);
    base = header.next_offset();
  }
  CAIRN_ASSERT(base == appended->last_offset + 1);
  return appended;
}

void Partition::when_committed(const storage::AppendResult& appended, CommitCallback done) {
  Offset end = appended.last_offset + 1;
  if (replica_) return replica_->when_committed(end, appended.term, std::move(done));
  log_->when_flushed(end, std::move(done));
}

Result<storage::ReadResult> Partition::read(Offset offset, size_t max_bytes,
                                            storage::FirstBatch first) const {
  if (replica_ && offset > log_->log_end() && !replica_->is_leader()) {
    return error(ErrorCode::not_leader, "{}: broker {} does not lead and its copy ends at {}, before "
                 "offset {}; ask the leader", tp_, replica_->self(), log_->log_end(), offset);
  }
  auto read = log_->read(offset, max_bytes, high_watermark(), first);
  if (!read.ok() && read.status().code() == ErrorCode::storage_corrupt && replica_ &&
      replica_->repairable()) {
    return error(ErrorCode::not_leader, "{}: broker {}'s copy is damaged and is being repaired from "
                 "the other replicas ({}); ask the leader", tp_, replica_->self(), read.status().message());
  }
  return read;
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
