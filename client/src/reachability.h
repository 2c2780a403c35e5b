#pragma once

#include <chrono>
#include <mutex>

#include "proto/status.h"

namespace cairn::client {

// Whether a client still hears from the brokers: the last failure that may
// pass (broker_unavailable, a timeout) since a broker last answered, and
// since when requests fail. Every thread of a consumer that talks to brokers
// reports here; poll() asks check(). Thread-safe.
class Reachability {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Reachability(std::chrono::milliseconds timeout) : timeout_(timeout) {}

  void answered();
  // Counts broker_unavailable, request_timed_out and shutting_down.
  void failed(const Status& status);
  // broker_unavailable, carrying the last failure, once requests failed for
  // the timeout with no answer in between; the next period starts then, so
  // it is reported once per timeout while it lasts.
  Status check();

 private:
  const std::chrono::milliseconds timeout_;
  std::mutex mutex_;
  Status failure_;  // the last one since a broker answered
  Clock::time_point failing_since_;
};

}  // namespace cairn::client
