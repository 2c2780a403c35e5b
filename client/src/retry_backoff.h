#pragma once

#include <chrono>

#include "cairn/client_options.h"

namespace cairn::client {

// The pause before retry number `attempt` (1 for the first) of a request that
// failed for a reason that may pass: ClientOptions::retry_backoff_ms doubled
// per attempt up to retry_backoff_max_ms, times a random factor in
// [0.8, 1.2]. Thread-safe.
std::chrono::milliseconds retry_backoff(const ClientOptions& options, int attempt);

// Consecutive failures of one kind of request and when to try it again. Not
// thread-safe: its owner's lock guards it.
class Backoff {
 public:
  using Clock = std::chrono::steady_clock;

  bool waiting(Clock::time_point now) const { return now < retry_at_; }
  Clock::time_point retry_at() const { return retry_at_; }
  // A failure while waiting (of a try made anyway) does not lengthen it.
  void failed(const ClientOptions& options, Clock::time_point now) {
    if (waiting(now)) return;
    retry_at_ = now + retry_backoff(options, ++failures_);
  }
  void succeeded() {
    failures_ = 0;
    retry_at_ = {};
  }

 private:
  int failures_ = 0;
  Clock::time_point retry_at_;
};

}  // namespace cairn::client
