#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace cairn::storage {

class PartitionLog;

// The group-commit threads of a store. Partitions ask for a sync with
// request(); each is synced once for everything appended before the sync
// began, however many appends asked, so concurrent producers share one
// fdatasync. Up to `threads` partitions sync at once: a slow sync of one
// partition does not hold up the others' acknowledgements, and the disk
// (and the filesystem's journal) take concurrent syncs together. A
// partition is never synced by two threads at once. Every `tick_ms` one
// thread also runs `on_tick` (the store checks the interval flush policy
// there), never two at once.
//
// Thread-safe.
class Flusher {
 public:
  Flusher(int threads, int64_t tick_ms, std::function<void(Flusher&)> on_tick);
  ~Flusher();  // stops the threads; pending requests are dropped

  void request(std::shared_ptr<PartitionLog> log);

 private:
  void run();
  // Removes and returns the first queued partition no thread is syncing;
  // null if there is none.
  std::shared_ptr<PartitionLog> take_locked();

  const std::chrono::milliseconds tick_;
  const std::function<void(Flusher&)> on_tick_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<PartitionLog>> queue_;
  std::set<const PartitionLog*> queued_;   // no partition twice in the queue
  std::set<const PartitionLog*> syncing_;  // taken by a thread, not done yet
  std::chrono::steady_clock::time_point next_tick_;
  bool ticking_ = false;  // a thread runs on_tick
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace cairn::storage
