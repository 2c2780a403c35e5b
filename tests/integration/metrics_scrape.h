#pragma once

// GET /metrics from a broker's --metrics-listen port, and its samples: the
// Prometheus text an operator's scraper reads. No Catch2 here, so that
// threads other than the test's may scrape.

#include <asio/connect.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace cairn::testing {

// The body of GET /metrics from 127.0.0.1:port (HTTP/1.0: the server closes
// the connection after the answer); none if no 200 came within `timeout`
// (a broker stopped, paused or not started).
inline std::optional<std::string> scrape_metrics(int port, std::chrono::milliseconds timeout) {
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  const std::string request = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  std::string answer;
  bool whole = false;
  socket.async_connect({asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)},
                       [&](const asio::error_code& connected) {
                         if (connected) return;
                         asio::async_write(socket, asio::buffer(request), [&](const asio::error_code& written, size_t) {
                           if (written) return;
                           asio::async_read(socket, asio::dynamic_buffer(answer),
                                            [&](const asio::error_code& read, size_t) { whole = read == asio::error::eof; });
                         });
                       });
  io.run_for(timeout);
  auto body = answer.find("\r\n\r\n");
  bool ok = answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200");
  if (!whole || !ok || body == std::string::npos) return std::nullopt;
  return answer.substr(body + 4);
}

// The value of the sample `name{labels}` (labels exactly as the exposer
// writes them), or -1 when absent.
inline double metric_sample(const std::string& text, const std::string& series) {
  auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

}  // namespace cairn::testing
