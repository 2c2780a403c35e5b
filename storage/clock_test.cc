#include <catch2/catch.hpp>

#include "storage/clock.h"

using cairn::storage::SteadyWallClock;

namespace {

constexpr int64_t kSecondUs = 1'000'000;
constexpr int64_t kDayMs = 24LL * 3600 * 1000;

// Hand-moved wall and steady clocks under a SteadyWallClock.
struct Clocks {
  int64_t wall_us = 1'700'000'000'000'000;
  int64_t steady_us = 5 * kSecondUs;
  SteadyWallClock clock{[this] { return wall_us; }, [this] { return steady_us; }};

  void pass(int64_t us) {
    wall_us += us;
    steady_us += us;
  }
};

}  // namespace

TEST_CASE("SteadyWallClock.ReadsTheWallClockWhileItRunsEvenly", "[clock]") {
  Clocks c;
  CHECK(c.clock.now_ms() == c.wall_us / 1'000);
  for (int i = 0; i < 1000; ++i) c.pass(1'234);
  CHECK(c.clock.now_ms() == c.wall_us / 1'000);
  CHECK(c.clock.wall_ahead_ms() == 0);
}

TEST_CASE("SteadyWallClock.AStepForwardIsFollowedAtOnePercentNotAtOnce", "[clock]") {
  Clocks c;
  int64_t before = c.clock.now_ms();
  c.wall_us += 30 * kDayMs * 1'000;  // NTP, an operator or a restored VM
  CHECK(c.clock.now_ms() == before);
  // Read every 50 us, as appends read it: the 1% still adds up.
  for (int i = 0; i < 20'000; ++i) {
    c.pass(50);
    (void)c.clock.now_ms();
  }
  CHECK(c.clock.now_ms() == before + 1'000 + 10);  // 1 s passed, 10 ms gained
  c.pass(10 * kSecondUs);
  CHECK(c.clock.now_ms() == before + 11'000 + 110);
  CHECK(c.clock.wall_ahead_ms() == 30 * kDayMs - 110);
}

TEST_CASE("SteadyWallClock.NeverGoesBackWhenTheWallClockDoes", "[clock]") {
  Clocks c;
  int64_t last = c.clock.now_ms();
  c.wall_us -= 3600LL * kSecondUs;
  for (int i = 0; i < 100; ++i) {
    c.pass(100'000);
    int64_t now = c.clock.now_ms();
    CHECK(now >= last);
    last = now;
  }
  // 10 s passed, 1% of it lost to meet the wall clock.
  CHECK(c.clock.wall_ahead_ms() == -3'600'000 + 100);
}

TEST_CASE("SteadyWallClock.MeetsTheWallClockAgainAndThenFollowsIt", "[clock]") {
  Clocks c;
  c.wall_us += 500'000;  // a 500 ms step: met within 50 s
  c.pass(50 * kSecondUs);
  CHECK(c.clock.wall_ahead_ms() == 0);
  c.pass(kSecondUs);
  CHECK(c.clock.now_ms() == c.wall_us / 1'000);
}

TEST_CASE("SteadyWallClock.StandsStillIfTheSteadyClockDoes", "[clock]") {
  Clocks c;
  int64_t before = c.clock.now_ms();
  c.wall_us += 10 * kSecondUs;
  CHECK(c.clock.now_ms() == before);
  c.steady_us -= kSecondUs;  // not steady: never believed backwards
  CHECK(c.clock.now_ms() == before);
}
