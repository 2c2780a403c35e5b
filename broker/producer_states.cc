#include "broker/producer_states.h"

#include <map>

namespace cairn::broker {

namespace {

int32_t last_sequence(const BatchHeader& batch) {
  return sequence_after(batch.base_sequence, batch.last_offset_delta);
}

int32_t next_sequence(int32_t sequence) { return sequence_after(sequence, 1); }

// Whether `sequence` is at or before `last`, within half the sequence
// space (a retry of something older, rather than a jump ahead).
bool at_or_before(int32_t sequence, int32_t last) {
  return (int64_t{last} - sequence + kSequenceSpace) % kSequenceSpace < kSequenceSpace / 2;
}

bool idempotent(const BatchHeader& batch) { return batch.producer_id >= 0; }

}  // namespace

Result<ProducerStates::Standing> ProducerStates::standing(const BatchHeader& batch) const {
  auto it = producers_.find(batch.producer_id);
  if (it == producers_.end()) {
    // Accepting any sequence here would let a batch land after a lost
    // one. A producer forgotten (expired, or its batches deleted) gets
    // this once, ends its epoch and starts the next at 0.
    if (batch.base_sequence == 0) return Standing{};
    return error(ErrorCode::out_of_order_sequence,
                 "{}: producer {} is not known here (new, or forgotten after a day without "
                 "writes) and sent sequence {}; a producer's first batch starts at 0", tp_,
                 batch.producer_id, batch.base_sequence);
  }
  const Producer& producer = it->second;
  if (batch.producer_epoch < producer.epoch) {
    return error(ErrorCode::invalid_producer_epoch,
                 "{}: producer {} epoch {} is fenced: its epoch {} has written here", tp_,
                 batch.producer_id, batch.producer_epoch, producer.epoch);
  }
  if (batch.producer_epoch > producer.epoch) {
    if (batch.base_sequence != 0) {
      return error(ErrorCode::out_of_order_sequence,
                   "{}: producer {} starts epoch {} at sequence {}; a new epoch starts at 0", tp_,
                   batch.producer_id, batch.producer_epoch, batch.base_sequence);
    }
    return Standing{};
  }
  for (const WrittenBatch& written : producer.batches) {
    if (written.first_sequence == batch.base_sequence &&
        written.last_sequence == last_sequence(batch)) {
      return Standing{false, written};
    }
  }
  int32_t last = producer.batches.back().last_sequence;
  if (batch.base_sequence == next_sequence(last)) return Standing{};
  if (at_or_before(batch.base_sequence, last)) {
    return error(ErrorCode::duplicate_sequence,
                 "{}: producer {} sent sequences {}..{} again, older than the last {} batches "
                 "remembered (last sequence {}): written before, at offsets no longer known",
                 tp_, batch.producer_id, batch.base_sequence, last_sequence(batch), kBatchesKept,
                 last);
  }
  return error(ErrorCode::out_of_order_sequence,
               "{}: producer {} sent sequence {} after {}: the records between are missing", tp_,
               batch.producer_id, batch.base_sequence, last);
}

Result<std::optional<storage::AppendResult>> ProducerStates::check(
    std::span<const BatchHeader> batches) const {
  // The last batch of each producer seen in this append, and whether it
  // is new: a new one's successors in the append must follow it.
  std::map<int64_t, std::pair<const BatchHeader*, bool>> earlier;
  std::optional<storage::AppendResult> retried;
  size_t retries = 0;
  for (const BatchHeader& batch : batches) {
    if (!idempotent(batch)) continue;
    if (batch.producer_epoch < 0 || batch.base_sequence < 0) {
      return error(ErrorCode::invalid_request,
                   "{}: a batch of producer {} needs an epoch and a base sequence >= 0, not {} "
                   "and {}", tp_, batch.producer_id, batch.producer_epoch, batch.base_sequence);
    }
    auto [previous, first_here] = earlier.try_emplace(batch.producer_id, &batch, true);
    if (!first_here && previous->second.second) {
      const BatchHeader& before = *previous->second.first;
      previous->second.first = &batch;
      if (batch.producer_epoch == before.producer_epoch &&
          batch.base_sequence == next_sequence(last_sequence(before))) {
        continue;
      }
      return error(ErrorCode::out_of_order_sequence,
                   "{}: producer {} sent sequence {} after {} in one request", tp_,
                   batch.producer_id, batch.base_sequence, last_sequence(before));
    }
    auto found = standing(batch);
    if (!found.ok()) return found.status();
    previous->second = {&batch, found->is_new};
    if (found->is_new) continue;
    const WrittenBatch& original = found->original;
    ++retries;
    if (!retried) retried = storage::AppendResult{original.base_offset, original.last_offset, 0, original.term};
    retried->last_offset = original.last_offset;
    retried->term = original.term;
  }
  if (retries == 0) return std::optional<storage::AppendResult>();
  if (retries != batches.size()) {
    return error(ErrorCode::invalid_request,
                 "{}: a request retried {} batches written before together with {} new ones; "
                 "send a retry as it was first sent", tp_, retries, batches.size() - retries);
  }
  return retried;
}

void ProducerStates::record(const BatchHeader& stamped, int64_t now_ms) {
  if (!idempotent(stamped)) return;
  Producer& producer = producers_[stamped.producer_id];
  if (producer.batches.empty() || stamped.producer_epoch != producer.epoch) {
    producer.batches.clear();
    producer.epoch = stamped.producer_epoch;
  }
  producer.batches.push_back({stamped.base_sequence, last_sequence(stamped), stamped.base_offset,
                              stamped.last_offset(), stamped.leader_epoch});
  if (producer.batches.size() > kBatchesKept) producer.batches.pop_front();
  producer.last_write_ms = std::max(producer.last_write_ms, now_ms);
}

Status ProducerStates::rebuild(const storage::PartitionLog& log, int64_t now_ms) {
  producers_.clear();
  return log.scan_headers(log.log_start(), [this, now_ms](const BatchHeader& batch) {
    if (!batch.is_control()) record(batch, now_ms);
  });
}

void ProducerStates::expire(int64_t now_ms) {
  std::erase_if(producers_, [&](const auto& entry) {
    return now_ms - entry.second.last_write_ms > expiration_ms_;
  });
}

}  // namespace cairn::broker
