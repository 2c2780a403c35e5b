#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace cairn::storage {

// Wall-clock time in milliseconds since the Unix epoch, behind an interface so
// tests of retention and segment rolling can move time by hand.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t now_ms() const = 0;

  static Clock& system();
};

class SystemClock final : public Clock {
 public:
  int64_t now_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

inline Clock& Clock::system() {
  static SystemClock clock;
  return clock;
}

// A clock that moves only when told. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_ms = 1'700'000'000'000) : now_ms_(start_ms) {}
  int64_t now_ms() const override { return now_ms_.load(); }
  void advance_ms(int64_t delta_ms) { now_ms_ += delta_ms; }
  void set_ms(int64_t now_ms) { now_ms_ = now_ms; }

 private:
  std::atomic<int64_t> now_ms_;
};

}  // namespace cairn::storage
