#include "broker/read_waiters.h"

namespace cairn::broker {

// Prune dead entries once the list grows past this, so fetches that timed
// out on an idle partition do not pile up.
constexpr size_t kPruneThreshold = 64;

void ReadWaiters::add(std::weak_ptr<ReadWaiter> waiter) {
  std::lock_guard lock(mutex_);
  if (waiters_.size() >= kPruneThreshold) {
    std::erase_if(waiters_, [](const auto& w) { return w.expired(); });
  }
  // A fetch on several partitions registers again after each wake; keep one
  // entry per waiter so an idle partition's list does not grow with them.
  for (const auto& w : waiters_) {
    if (!w.owner_before(waiter) && !waiter.owner_before(w)) return;
  }
  waiters_.push_back(std::move(waiter));
}

void ReadWaiters::wake_all() {
  std::vector<std::weak_ptr<ReadWaiter>> woken;
  {
    std::lock_guard lock(mutex_);
    woken.swap(waiters_);
  }
  for (auto& w : woken) {
    if (auto waiter = w.lock()) waiter->wake();
  }
}

}  // namespace cairn::broker
