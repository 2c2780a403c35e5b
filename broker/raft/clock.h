#pragma once

#include <chrono>
#include <cstdint>

namespace cairn::raft {

// Monotonic time in milliseconds for one node; only differences matter.
// Consensus reads it on every tick and message, and keeps its timers
// (election, heartbeat, check-quorum, transfer) as deadlines on it, so a
// group needs no timer of its own: its owner calls Consensus::tick() every
// few milliseconds (see RaftOptions::tick_interval_ms), and one timer can
// drive thousands of groups. Production reads steady_clock; tests and the
// simulator use ManualClock (with drift, in the simulator).
class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t now_ms() const = 0;
};

// The machine's monotonic clock: what a broker's groups run on.
class SteadyClock final : public Clock {
 public:
  int64_t now_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};

// A clock that moves only when told to. Single-threaded.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_ms = 0) : now_ms_(start_ms) {}
  int64_t now_ms() const override { return now_ms_; }
  void advance_ms(int64_t delta_ms) { now_ms_ += delta_ms; }
  void set_ms(int64_t now_ms) { now_ms_ = now_ms; }

 private:
  int64_t now_ms_;
};

}  // namespace cairn::raft
