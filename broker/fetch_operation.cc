#include "broker/fetch_operation.h"

#include <algorithm>

#include <asio/post.hpp>

#include "proto/byte_io.h"
#include "proto/record_batch.h"
#include "proto/record_messages.h"
#include "proto/rpc_error.h"

namespace cairn::broker {

constexpr size_t kDefaultPartitionMaxBytes = 1 << 20;
// The tag and length prefix of one partition in the encoded response, at most.
constexpr size_t kPartitionFraming = 6;

namespace {

size_t data_bytes(const v1::FetchedPartition& p) {
  size_t bytes = p.batches().size();
  for (const auto& r : p.records()) bytes += r.ByteSizeLong();
  return bytes;
}

// Leaves the partition in the response, with its offsets but without data.
void drop_data(const v1::PartitionFetch& want, v1::FetchedPartition* out) {
  out->clear_batches();
  out->clear_records();
  out->set_next_offset(want.offset());
}

}  // namespace

FetchOperation::FetchOperation(TopicManager& topics, asio::io_context& io,
                               const v1::FetchRequest* request, v1::FetchResponse* response,
                               std::function<void()> finish, const FetchLimits& limits,
                               const std::atomic<bool>& shutting_down)
    : topics_(topics), io_(io), request_(request), response_(response), finish_(std::move(finish)),
      limits_(limits), max_wait_ms_(std::clamp(request->max_wait_ms(), 0, limits.max_wait_ms)),
      shutting_down_(shutting_down) {}

void FetchOperation::start() {
  if (max_wait_ms_ > 0) {
    std::lock_guard lock(mutex_);
    timer_ = std::make_unique<asio::steady_timer>(io_, std::chrono::milliseconds(max_wait_ms_));
    timer_->async_wait([self = shared_from_this()](const std::error_code& ec) {
      if (!ec) self->attempt(/*deadline_passed=*/true);
    });
  }
  attempt(/*deadline_passed=*/max_wait_ms_ == 0);
}

void FetchOperation::wake() {
  if (shutting_down_) {
    attempt(/*deadline_passed=*/true);
    return;
  }
  asio::post(io_, [self = shared_from_this()] { self->attempt(/*deadline_passed=*/false); });
}

void FetchOperation::attempt(bool deadline_passed) {
  std::lock_guard lock(mutex_);
  if (finished_) return;
  deadline_passed = deadline_passed || shutting_down_;
  // Register before reading, so data that lands during the read still wakes us.
  if (!deadline_passed) register_waiters();
  bool any_error = false;
  size_t bytes = read_all(&any_error);
  size_t min_bytes = static_cast<size_t>(std::max(1, request_->min_bytes()));
  if (bytes >= min_bytes || any_error || deadline_passed) {
    finished_ = true;
    if (timer_) timer_->cancel();
    finish_();
  }
}

void FetchOperation::register_waiters() {
  for (const auto& want : request_->partitions()) {
    if (auto partition = topics_.partition({want.topic(), want.partition()})) {
      partition->waiters().add(weak_from_this());
    }
  }
}

size_t FetchOperation::read_all(bool* any_error) {
  response_->clear_partitions();
  size_t max_bytes = limits_.max_bytes;
  if (request_->max_bytes() > 0) max_bytes = std::min(max_bytes, size_t(request_->max_bytes()));
  size_t total = 0;          // record bytes in the response
  size_t response_size = 0;  // the whole encoded response, for the send limit
  for (const auto& want : request_->partitions()) {
    auto* out = response_->add_partitions();
    size_t partition_max = want.max_bytes() > 0 ? static_cast<size_t>(want.max_bytes())
                                                : kDefaultPartitionMaxBytes;
    // Only the first partition with data may overshoot (by its first batch).
    auto first = total == 0 ? storage::FirstBatch::always : storage::FirstBatch::only_if_it_fits;
    size_t left = max_bytes > total ? max_bytes - total : 0;
    read_partition(want, std::min(partition_max, left), first, out);
    // Records decode larger than their batch and every partition adds its
    // framing: the send limit is checked on what will really be sent.
    size_t size = out->ByteSizeLong() + kPartitionFraming;
    if (response_size + size > limits_.send_limit) {
      if (total == 0 && data_bytes(*out) > 0) {
        to_proto(error(ErrorCode::record_too_large,
                       "{}/{}: the batch at offset {} does not fit in a response of at most {} "
                       "bytes (--max-request-bytes); fetch it as batches, or raise the limit",
                       want.topic(), want.partition(), want.offset(), limits_.send_limit),
                 out->mutable_error());
        *any_error = true;
      }
      drop_data(want, out);
      size = out->ByteSizeLong() + kPartitionFraming;
    }
    if (out->error().code() != v1::NONE) *any_error = true;
    total += data_bytes(*out);
    response_size += size;
  }
  return total;
}

void FetchOperation::read_partition(const v1::PartitionFetch& want, size_t budget,
                                    storage::FirstBatch first, v1::FetchedPartition* out) {
  out->set_topic(want.topic());
  out->set_partition(want.partition());
  out->set_next_offset(want.offset());
  auto partition = topics_.partition({want.topic(), want.partition()});
  if (!partition) {
    to_proto(topics_.why_no_partition({want.topic(), want.partition()}), out->mutable_error());
    return;
  }
  auto read = partition->read(Offset(want.offset()), budget, first);
  // Taken after the read: the watermark only rises, so it is never below
  // the records the read returned.
  out->set_high_watermark(partition->high_watermark().value);
  out->set_log_start_offset(partition->log_start().value);
  if (!read.ok()) {
    to_proto(read.status(), out->mutable_error());
    return;
  }
  out->set_next_offset(read->next_offset.value);
  if (!request_->as_records()) {
    out->set_batches(std::move(read->bytes));
    return;
  }
  auto data = as_bytes(read->bytes);
  while (!data.empty()) {
    auto header = parse_batch_header(data, data.size());
    if (!header.ok()) break;  // the log returns whole, verified batches
    if (header->is_control()) {  // the broker's own entry, not a record
      data = data.subspan(header->size_bytes());
      continue;
    }
    auto records = decode_batch(data.subspan(0, header->size_bytes()));
    if (!records.ok()) {
      to_proto(records.status(), out->mutable_error());
      return;
    }
    for (auto& r : *records) {
      if (r.offset.value < want.offset()) continue;
      to_proto(std::move(r), out->add_records());
    }
    data = data.subspan(header->size_bytes());
  }
}

}  // namespace cairn::broker
