#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>

namespace cairn::storage {

// Wall-clock time in milliseconds since the Unix epoch, behind an interface so
// tests of retention and segment rolling can move time by hand.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t now_ms() const = 0;

  // The wall clock as it is, stepped with it: for time stamped on what
  // leaves the broker (record and commit timestamps).
  static Clock& system();
  // A SteadyWallClock over the system's clocks: for deciding by time what
  // to delete (retention, tombstones, producer state) and when to roll or
  // flush a segment, where a stepped wall clock must not count.
  static Clock& steady_wall();
};

// The system's wall clock. Thread-safe.
class SystemClock final : public Clock {
 public:
  int64_t now_ms() const override;
};

// Wall-clock time that never jumps while the process runs. It advances with
// a steady clock and follows the wall clock at most 1% faster or slower, as
// NTP slews: a wall clock stepped by an operator, by NTP or by a restored
// VM moves it by 10 ms a second, never at once. Retention reads it, so a
// step forward of the wall clock deletes nothing early (Kafka's retention
// follows the stepped clock and does); a correct step forward (the clock
// was behind) makes retention late by what is left of the step, the safe
// side. Nothing is stamped with it: a stamp must be the real time, as
// other brokers' clocks judge it. A process that starts takes the wall
// clock as it is then.
//
// Invariant: now_ms() never decreases, and over any interval it moves by the
// steady time elapsed, give or take 1%. Thread-safe.
class SteadyWallClock final : public Clock {
 public:
  // Microseconds: the wall clock's (since the Unix epoch) and a steady one's.
  using Source = std::function<int64_t()>;
  SteadyWallClock(Source wall_us, Source steady_us);

  int64_t now_ms() const override;
  // How far the wall clock is ahead of this clock now (negative: behind).
  int64_t wall_ahead_ms() const;

  // 1%: the most this clock gains or loses on the steady clock to meet the wall clock.
  static constexpr int64_t kSlewDivisor = 100;
  // A gap this large is logged (once until it closes): the wall clock was stepped.
  static constexpr int64_t kStepWarningUs = 1'000'000;

 private:
  struct Reading {
    int64_t now_us = 0;
    int64_t wall_ahead_us = 0;
    enum class Change { none, stepped, met } change = Change::none;  // to log
  };
  Reading read() const;
  Reading advance_locked() const;

  const Source wall_us_;
  const Source steady_us_;
  mutable std::mutex mutex_;
  mutable int64_t now_us_;
  mutable int64_t steady_at_now_us_;
  mutable int64_t slew_carry_us_ = 0;
  mutable bool stepped_ = false;
};

// For fault tests only (cairnd --test-clock-skew-file): the system wall
// clock (Clock::system(), and what Clock::steady_wall() follows) reads this
// much ahead of the real one.
void set_wall_clock_skew_for_testing(int64_t skew_ms);

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
