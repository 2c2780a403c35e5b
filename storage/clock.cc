#include "storage/clock.h"

#include <spdlog/spdlog.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

namespace cairn::storage {

namespace {

std::atomic<int64_t> wall_clock_skew_us{0};

int64_t system_wall_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
             .count() +
         wall_clock_skew_us.load(std::memory_order_relaxed);
}

// CLOCK_BOOTTIME, unlike the steady clock, also counts time suspended: a
// resumed machine's clock catches up at once rather than at 1%.
int64_t boot_time_us() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000 + ts.tv_nsec / 1'000;
}

}  // namespace

int64_t SystemClock::now_ms() const { return system_wall_us() / 1'000; }

Clock& Clock::system() {
  static SystemClock clock;
  return clock;
}

Clock& Clock::steady_wall() {
  static SteadyWallClock clock(system_wall_us, boot_time_us);
  return clock;
}

void set_wall_clock_skew_for_testing(int64_t skew_ms) {
  wall_clock_skew_us.store(skew_ms * 1'000, std::memory_order_relaxed);
}

SteadyWallClock::SteadyWallClock(Source wall_us, Source steady_us)
    : wall_us_(std::move(wall_us)),
      steady_us_(std::move(steady_us)),
      now_us_(wall_us_()),
      steady_at_now_us_(steady_us_()) {}

SteadyWallClock::Reading SteadyWallClock::advance_locked() const {
  int64_t steady = steady_us_();
  int64_t elapsed = std::max<int64_t>(0, steady - steady_at_now_us_);
  steady_at_now_us_ = std::max(steady_at_now_us_, steady);
  int64_t wall = wall_us_();
  int64_t ahead = wall - (now_us_ + elapsed);
  // Called every few microseconds, elapsed / 100 would round to nothing:
  // the remainder carries over.
  int64_t budget = elapsed + slew_carry_us_;
  int64_t slew = budget / kSlewDivisor;
  slew_carry_us_ = budget % kSlewDivisor;
  now_us_ += elapsed + std::clamp(ahead, -slew, slew);
  Reading reading{now_us_, wall - now_us_, Reading::Change::none};
  if (std::abs(reading.wall_ahead_us) >= kStepWarningUs && !stepped_) {
    stepped_ = true;
    reading.change = Reading::Change::stepped;
  } else if (std::abs(reading.wall_ahead_us) < kStepWarningUs / 2 && stepped_) {
    stepped_ = false;
    reading.change = Reading::Change::met;
  }
  return reading;
}

SteadyWallClock::Reading SteadyWallClock::read() const {
  Reading reading;
  {
    std::lock_guard lock(mutex_);
    reading = advance_locked();
  }
  // Logged outside the mutex: a slow log must not hold up every reader.
  if (reading.change == Reading::Change::stepped) {
    spdlog::warn("the wall clock was stepped: it is {} ms {} the time retention follows, which meets it at 1% "
                 "(10 ms a second) so that a step deletes nothing early; a restart takes the wall clock at once",
                 std::abs(reading.wall_ahead_us) / 1'000, reading.wall_ahead_us > 0 ? "ahead of" : "behind");
  } else if (reading.change == Reading::Change::met) {
    spdlog::info("the time retention follows has met the wall clock again");
  }
  return reading;
}

int64_t SteadyWallClock::now_ms() const { return read().now_us / 1'000; }

int64_t SteadyWallClock::wall_ahead_ms() const { return read().wall_ahead_us / 1'000; }

}  // namespace cairn::storage
