#include "reachability.h"

namespace cairn::client {

void Reachability::answered() {
  std::lock_guard lock(mutex_);
  failure_ = {};
}

void Reachability::failed(const Status& status) {
  // Other errors (not_leader, an unknown partition) are answers.
  if (status.code() != ErrorCode::broker_unavailable && status.code() != ErrorCode::request_timed_out &&
      status.code() != ErrorCode::shutting_down) {
    return;
  }
  std::lock_guard lock(mutex_);
  if (failure_.ok()) failing_since_ = Clock::now();
  failure_ = status;
}

Status Reachability::check() {
  std::lock_guard lock(mutex_);
  auto now = Clock::now();
  if (failure_.ok() || now - failing_since_ < timeout_) return {};
  failing_since_ = now;
  return error(ErrorCode::broker_unavailable, "no broker answered for {} ms (still retrying): {}",
               timeout_.count(), failure_.to_string());
}

}  // namespace cairn::client
