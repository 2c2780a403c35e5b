#include "retry_backoff.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "proto/assert.h"

namespace cairn::client {

std::chrono::milliseconds retry_backoff(const ClientOptions& options, int attempt) {
  CAIRN_ASSERT(attempt >= 1);
  constexpr int kMaxDoublings = 20;  // far past any sane maximum; keeps the shift defined
  int64_t doubled = int64_t{options.retry_backoff_ms} << std::min(attempt - 1, kMaxDoublings);
  int64_t capped = std::min<int64_t>(doubled, options.retry_backoff_max_ms);
  thread_local std::minstd_rand rng(std::random_device{}());
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  return std::chrono::milliseconds(std::max<int64_t>(1, std::llround(static_cast<double>(capped) * jitter(rng))));
}

}  // namespace cairn::client
