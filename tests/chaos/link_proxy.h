#pragma once

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <thread>

namespace cairn::chaos {

// A network link between two brokers that a fault test controls: a TCP
// proxy on 127.0.0.1 (an ephemeral port) forwarding to a target port.
// cairnd --test-peer-route sends one broker's Raft traffic for another
// through it, so each direction of each pair of brokers has its own link.
//   open       bytes flow;
//   cut        every connection is closed and new ones are closed at once
//              (a refused link: the sender sees errors and reconnects);
//   blackhole  connections stay up but every byte is dropped (a link that
//              silently loses everything, as a partition without resets);
//   slow       bytes flow, each read of them held kSlowDelay first (a
//              congested or long-haul link: latency, and throughput capped
//              at a buffer per delay per connection).
// Thread-safe; its own I/O thread.
class LinkProxy {
 public:
  enum class Mode { open, cut, blackhole, slow };
  static constexpr std::chrono::milliseconds kSlowDelay{150};

  explicit LinkProxy(uint16_t target_port);
  ~LinkProxy();
  LinkProxy(const LinkProxy&) = delete;
  LinkProxy& operator=(const LinkProxy&) = delete;

  uint16_t port() const { return port_; }
  void set(Mode mode);
  Mode mode() const { return mode_.load(); }

 private:
  class Session;
  void accept();

  const uint16_t target_port_;
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::atomic<Mode> mode_{Mode::open};
  std::set<std::shared_ptr<Session>> sessions_;  // I/O thread only
  std::thread thread_;
};

}  // namespace cairn::chaos
