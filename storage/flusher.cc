#include "storage/flusher.h"

#include <chrono>

#include <spdlog/spdlog.h>

#include "proto/thread_name.h"
#include "storage/partition_log.h"

namespace cairn::storage {

Flusher::Flusher(int64_t tick_ms, std::function<void(Flusher&)> on_tick)
    : tick_ms_(tick_ms), on_tick_(std::move(on_tick)), thread_([this] { run(); }) {}

Flusher::~Flusher() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void Flusher::request(std::shared_ptr<PartitionLog> log) {
  {
    std::lock_guard lock(mutex_);
    if (!queued_.insert(log.get()).second) return;
    queue_.push_back(std::move(log));
  }
  wake_.notify_one();
}

void Flusher::run() {
  name_this_thread("cairn-flush");
  auto next_tick = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (queue_.empty()) {
      wake_.wait_until(lock, next_tick, [this] { return stopping_ || !queue_.empty(); });
    }
    if (stopping_) break;
    if (std::chrono::steady_clock::now() >= next_tick) {
      next_tick = std::chrono::steady_clock::now() + std::chrono::milliseconds(tick_ms_);
      lock.unlock();
      on_tick_(*this);
      lock.lock();
      continue;
    }
    auto log = std::move(queue_.front());
    queue_.pop_front();
    queued_.erase(log.get());
    lock.unlock();
    // Failures reach the waiters through their callbacks; the log stops itself.
    Status status = log->flush_now();
    if (!status.ok()) spdlog::error("flush of {} failed: {}", log->topic_partition(), status.to_string());
    log.reset();
    lock.lock();
  }
}

}  // namespace cairn::storage
