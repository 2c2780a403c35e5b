#include "produce_stream_client.h"

namespace cairn::client {

ProduceStreamClient::ProduceStreamClient(const std::shared_ptr<grpc::Channel>& channel,
                                         std::function<void(v1::ProduceResponse&)> on_response,
                                         std::function<void(const grpc::Status&)> on_done)
    : stub_(channel), on_response_(std::move(on_response)), on_done_(std::move(on_done)) {
  // gRPC keeps a pointer to the method's name: it must outlive the call.
  static const std::string kMethod = "/cairn.v1.Broker/ProduceStream";
  stub_.PrepareBidiStreamingCall(&context_, kMethod, grpc::StubOptions(), this);
  // Writes start from the producer's thread, outside any reaction: the hold
  // keeps the call alive until the write side is finished with.
  AddHold();
  StartRead(&response_);
  StartCall();
}

bool ProduceStreamClient::send(std::unique_ptr<grpc::ByteBuffer>& request) {
  std::unique_lock lock(mutex_);
  if (ended_ || closing_) return false;
  queue_.push_back(std::move(request));
  write_next_locked(lock);
  return true;
}

void ProduceStreamClient::close() {
  std::unique_lock lock(mutex_);
  if (ended_ || closing_) return;
  closing_ = true;
  write_next_locked(lock);
}

void ProduceStreamClient::write_next_locked(std::unique_lock<std::mutex>& lock) {
  if (writing_ || write_failed_ || ended_) return;
  if (!queue_.empty()) {
    writing_ = true;
    const grpc::ByteBuffer* next = queue_.front().get();
    lock.unlock();
    StartWrite(next);
    lock.lock();
  } else if (closing_) {
    writing_ = true;  // nothing more will be written
    ended_ = true;
    lock.unlock();
    StartWritesDone();
    release_hold(lock);
  }
}

void ProduceStreamClient::release_hold(std::unique_lock<std::mutex>& lock) {
  if (!lock.owns_lock()) lock.lock();
  if (hold_released_) return;
  hold_released_ = true;
  lock.unlock();
  RemoveHold();  // last: OnDone may now run, and the owner delete this
}

void ProduceStreamClient::OnWriteDone(bool ok) {
  std::unique_lock lock(mutex_);
  queue_.pop_front();
  writing_ = false;
  if (!ok || ended_) {
    // The stream is broken or its read side ended: no more writes.
    write_failed_ = true;
    ended_ = true;
    release_hold(lock);
    return;
  }
  write_next_locked(lock);
}

void ProduceStreamClient::OnReadDone(bool ok) {
  if (ok) {
    on_response_(response_);
    response_.Clear();
    StartRead(&response_);
    return;
  }
  std::unique_lock lock(mutex_);
  ended_ = true;  // send() refuses from now on
  if (!writing_) release_hold(lock);  // else OnWriteDone releases it
}

void ProduceStreamClient::OnDone(const grpc::Status& status) {
  on_done_(status);
  done_ = true;
}

}  // namespace cairn::client
