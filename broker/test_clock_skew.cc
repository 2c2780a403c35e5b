#include "broker/test_clock_skew.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <fstream>

#include "storage/clock.h"

namespace cairn::broker {

TestClockSkew::TestClockSkew(asio::io_context& io, std::string path) : path_(std::move(path)), timer_(io) {
  read();
  schedule();
}

void TestClockSkew::read() {
  int64_t skew_ms = 0;
  std::ifstream(path_) >> skew_ms;  // no file: 0; tests write a new one and rename it over
  if (skew_ms == skew_ms_) return;
  spdlog::warn("--test-clock-skew-file: the wall clock steps {} ms (for fault tests only)", skew_ms - skew_ms_);
  skew_ms_ = skew_ms;
  storage::set_wall_clock_skew_for_testing(skew_ms);
}

void TestClockSkew::schedule() {
  timer_.expires_after(std::chrono::milliseconds(50));
  timer_.async_wait([this](const std::error_code& ec) {
    if (ec) return;
    read();
    schedule();
  });
}

}  // namespace cairn::broker
