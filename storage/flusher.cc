#include "storage/flusher.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "proto/assert.h"
#include "proto/thread_name.h"
#include "storage/partition_log.h"

namespace cairn::storage {

Flusher::Flusher(int threads, int64_t tick_ms, std::function<void(Flusher&)> on_tick)
    : tick_(tick_ms), on_tick_(std::move(on_tick)), next_tick_(std::chrono::steady_clock::now()) {
  CAIRN_ASSERT(threads >= 1);
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

Flusher::~Flusher() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& thread : threads_) thread.join();
}

void Flusher::request(std::shared_ptr<PartitionLog> log) {
  {
    std::lock_guard lock(mutex_);
    if (!queued_.insert(log.get()).second) return;
    queue_.push_back(std::move(log));
  }
  wake_.notify_one();
}

std::shared_ptr<PartitionLog> Flusher::take_locked() {
  auto it = std::find_if(queue_.begin(), queue_.end(),
                         [this](const auto& log) { return !syncing_.count(log.get()); });
  if (it == queue_.end()) return nullptr;
  std::shared_ptr<PartitionLog> log = std::move(*it);
  queue_.erase(it);
  queued_.erase(log.get());
  return log;
}

void Flusher::run() {
  name_this_thread("cairn-flush");
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    auto now = std::chrono::steady_clock::now();
    // One tick at a time: a slow one must not pull every thread in.
    if (now >= next_tick_ && !ticking_) {
      ticking_ = true;
      lock.unlock();
      on_tick_(*this);
      lock.lock();
      ticking_ = false;
      next_tick_ = std::chrono::steady_clock::now() + tick_;
      continue;
    }
    std::shared_ptr<PartitionLog> log = take_locked();
    if (!log) {
      auto until = ticking_ ? now + tick_ : next_tick_;
      wake_.wait_until(lock, until);
      continue;
    }
    syncing_.insert(log.get());
    lock.unlock();
    // Failures reach the waiters through their callbacks; the log stops itself.
    Status status = log->flush_now();
    if (!status.ok()) spdlog::error("flush of {} failed: {}", log->topic_partition(), status.to_string());
    lock.lock();
    syncing_.erase(log.get());
    // It may have been requested again meanwhile: any idle thread may take it.
    if (!queue_.empty()) wake_.notify_one();
    lock.unlock();
    log.reset();  // the last reference may close the log: not under the mutex
    lock.lock();
  }
}

}  // namespace cairn::storage
