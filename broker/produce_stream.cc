#include "broker/produce_stream.h"

#include "proto/rpc_error.h"

namespace cairn::broker {

ProduceStreamReactor::ProduceStreamReactor(ProduceHandler& handler, grpc::CallbackServerContext* context)
    : handler_(handler), context_(context) {
  handler_.metrics().produce_stream_opened();
  reading_ = true;
  StartRead(&incoming_);
}

void ProduceStreamReactor::OnDone() {
  handler_.metrics().produce_stream_closed();
  delete this;
}

void ProduceStreamReactor::OnReadDone(bool ok) {
  std::unique_lock lock(mutex_);
  if (!ok) {
    reading_ = false;
    reads_done_ = true;
    pump(lock);
    return;
  }
  // reading_ stays true until this request is appended: no other read may
  // start (and append on another thread) before it, or a partition's
  // batches could land out of stream order.
  auto exchange = std::make_unique<Exchange>();
  exchange->request.Swap(&incoming_);
  Exchange* raw = exchange.get();
  in_flight_[raw] = std::move(exchange);
  lock.unlock();
  // Appends happen here, on this stream's read callback: in stream order.
  auto abandoned = [context = context_] { return context->IsCancelled(); };
  if (!handler_.handle(raw->request, &raw->response, [this, raw] { acknowledged(raw); }, abandoned)) {
    raw->response.set_request_id(raw->request.request_id());
    for (const auto& p : raw->request.partitions()) {
      auto* result = raw->response.add_results();
      result->set_topic(p.topic());
      result->set_partition(p.partition());
      to_proto(error(ErrorCode::resource_exhausted,
                     "the broker has too many produce bytes awaiting acknowledgement"),
               result->mutable_error());
    }
    acknowledged(raw);
  }
  lock.lock();
  reading_ = false;
  pump(lock);
}

void ProduceStreamReactor::acknowledged(Exchange* exchange) {
  std::unique_lock lock(mutex_);
  if (handler_.drop_response()) {
    in_flight_.erase(exchange);
  } else {
    to_write_.push_back(exchange);
  }
  pump(lock);
}

void ProduceStreamReactor::OnWriteDone(bool ok) {
  std::unique_lock lock(mutex_);
  writing_ = false;
  if (!ok) broken_ = true;
  in_flight_.erase(to_write_.front());
  to_write_.pop_front();
  pump(lock);
}

void ProduceStreamReactor::pump(std::unique_lock<std::mutex>& lock) {
  bool start_read = false;
  const v1::ProduceResponse* start_write = nullptr;
  bool finish = false;
  if (broken_) {
    // Nobody will read the answers: drop them as they come.
    while (!to_write_.empty() && !writing_) {
      in_flight_.erase(to_write_.front());
      to_write_.pop_front();
    }
  } else if (!writing_ && !to_write_.empty()) {
    writing_ = true;
    start_write = &to_write_.front()->response;
  }
  if (!reading_ && !reads_done_ && !broken_ && in_flight_.size() < kMaxInFlight) {
    reading_ = true;
    start_read = true;
  }
  if ((reads_done_ || broken_) && !reading_ && in_flight_.empty() && !writing_ && !finished_) {
    finished_ = true;
    finish = true;
  }
  lock.unlock();
  if (start_write) StartWrite(start_write);
  if (start_read) StartRead(&incoming_);
  // Last: once finished, OnDone may delete this reactor on another thread.
  if (finish) Finish(grpc::Status::OK);
}

}  // namespace cairn::broker
