#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include <string>

namespace cairn::broker {

// For fault tests only (cairnd --test-clock-skew-file PATH): PATH holds how
// many milliseconds the broker's wall clock reads ahead of the real one
// (negative: behind; no file: 0). A test steps a running broker's clock by
// rewriting it; read at once, then every 50 ms.
class TestClockSkew {
 public:
  TestClockSkew(asio::io_context& io, std::string path);

 private:
  void read();
  void schedule();

  const std::string path_;
  asio::steady_timer timer_;
  int64_t skew_ms_ = 0;
};

}  // namespace cairn::broker
