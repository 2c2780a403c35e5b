#pragma once

#include <memory>
#include <mutex>
#include <vector>

namespace cairn::broker {

// Something waiting for new readable data (a long-polling fetch).
class ReadWaiter {
 public:
  virtual ~ReadWaiter() = default;
  // Called when the partition's high watermark advanced. Must not block:
  // implementations post their work elsewhere.
  virtual void wake() = 0;
};

// The waiters of one partition. A waiter is woken at most once per add();
// waiters that went away are pruned. Thread-safe. Bounded by the number of
// pending fetches (each registers once per partition at a time).
class ReadWaiters {
 public:
  void add(std::weak_ptr<ReadWaiter> waiter);
  void wake_all();

 private:
  std::mutex mutex_;
  std::vector<std::weak_ptr<ReadWaiter>> waiters_;
};

}  // namespace cairn::broker
