#include "broker/produce_operation.h"

#include "proto/rpc_error.h"

namespace cairn::broker {

ProduceOperation::ProduceOperation(std::function<void()> done) : done_(std::move(done)) {}

void ProduceOperation::expect(v1::PartitionProduceResult* result) {
  std::lock_guard lock(mutex_);
  waiting_.push_back(result);
}

void ProduceOperation::complete(v1::PartitionProduceResult* result, const Status& status) {
  std::lock_guard lock(mutex_);
  if (finished_) return;
  if (!status.ok()) to_proto(status, result->mutable_error());
  std::erase(waiting_, result);
  if (waiting_.empty() && armed_) finish_locked();
}

void ProduceOperation::arm(asio::io_context& io, int32_t timeout_ms) {
  std::lock_guard lock(mutex_);
  armed_ = true;
  if (waiting_.empty()) {
    finish_locked();
    return;
  }
  timer_ = std::make_unique<asio::steady_timer>(io, std::chrono::milliseconds(timeout_ms));
  timer_->async_wait([self = shared_from_this(), timeout_ms](const std::error_code& ec) {
    if (ec) return;
    std::lock_guard lock(self->mutex_);
    if (self->finished_) return;
    Status timed_out = error(ErrorCode::request_timed_out,
                             "appended but not durable within {} ms; it may still be committed",
                             timeout_ms);
    for (auto* result : self->waiting_) to_proto(timed_out, result->mutable_error());
    self->finish_locked();
  });
}

void ProduceOperation::finish_locked() {
  finished_ = true;
  if (timer_) timer_->cancel();
  done_();
}

}  // namespace cairn::broker
