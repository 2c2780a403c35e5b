#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

namespace cairn::storage {

class PartitionLog;

// The group-commit thread of a store. Partitions ask for a sync with
// request(); each is synced once for everything appended before the sync
// began, however many appends asked, so concurrent producers share one
// fdatasync. Every `tick_ms` it also runs `on_tick` (the store checks the
// interval flush policy there).
//
// Thread-safe. One thread; partitions are synced one after another.
class Flusher {
 public:
  Flusher(int64_t tick_ms, std::function<void(Flusher&)> on_tick);
  ~Flusher();  // stops the thread; pending requests are dropped

  void request(std::shared_ptr<PartitionLog> log);

 private:
  void run();

  const int64_t tick_ms_;
  const std::function<void(Flusher&)> on_tick_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<PartitionLog>> queue_;
  std::set<const PartitionLog*> queued_;  // no partition twice in the queue
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace cairn::storage
