#include "link_proxy.h"

#include <asio/connect.hpp>
#include <asio/post.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>

#include <array>
#include <future>

namespace cairn::chaos {

using asio::ip::tcp;

// One proxied connection: two sockets and a pump each way.
class LinkProxy::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(LinkProxy& proxy, tcp::socket client) : proxy_(proxy), client_(std::move(client)), target_(client_.get_executor()) {}

  void start() {
    auto self = shared_from_this();
    target_.async_connect({asio::ip::make_address("127.0.0.1"), proxy_.target_port_},
                          [self](const std::error_code& ec) {
                            if (ec) return self->close();
                            self->pump(self->client_, self->target_, self->up_);
                            self->pump(self->target_, self->client_, self->down_);
                          });
  }

  void close() {
    std::error_code ignored;
    client_.close(ignored);
    target_.close(ignored);
    proxy_.sessions_.erase(shared_from_this());
  }

 private:
  using Buffer = std::array<char, 64 * 1024>;

  void pump(tcp::socket& from, tcp::socket& to, Buffer& buffer) {
    auto self = shared_from_this();
    from.async_read_some(asio::buffer(buffer), [self, &from, &to, &buffer](const std::error_code& ec, size_t n) {
      if (ec) return self->close();
      Mode mode = self->proxy_.mode();
      if (mode == Mode::blackhole) return self->pump(from, to, buffer);  // dropped
      if (mode != Mode::slow) return self->forward(from, to, buffer, n);
      auto delay = std::make_shared<asio::steady_timer>(from.get_executor(), kSlowDelay);
      delay->async_wait([self, &from, &to, &buffer, n, delay](const std::error_code&) {
        self->forward(from, to, buffer, n);
      });
    });
  }

  void forward(tcp::socket& from, tcp::socket& to, Buffer& buffer, size_t n) {
    auto self = shared_from_this();
    asio::async_write(to, asio::buffer(buffer.data(), n), [self, &from, &to, &buffer](const std::error_code& ec, size_t) {
      if (ec) return self->close();
      self->pump(from, to, buffer);
    });
  }

  LinkProxy& proxy_;
  tcp::socket client_;
  tcp::socket target_;
  Buffer up_{};
  Buffer down_{};
};

LinkProxy::LinkProxy(uint16_t target_port)
    : target_port_(target_port), acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
  port_ = acceptor_.local_endpoint().port();
  accept();
  thread_ = std::thread([this] { io_.run(); });
}

LinkProxy::~LinkProxy() {
  std::promise<void> closed;
  asio::post(io_, [this, &closed] {
    std::error_code ignored;
    acceptor_.close(ignored);
    auto sessions = sessions_;
    for (const auto& s : sessions) s->close();
    closed.set_value();
  });
  closed.get_future().wait();
  io_.stop();
  thread_.join();
}

void LinkProxy::set(Mode mode) {
  mode_ = mode;
  if (mode != Mode::cut) return;
  asio::post(io_, [this] {
    auto sessions = sessions_;
    for (const auto& s : sessions) s->close();
  });
}

void LinkProxy::accept() {
  acceptor_.async_accept([this](const std::error_code& ec, tcp::socket socket) {
    if (ec) return;
    if (mode() != Mode::cut) {
      auto session = std::make_shared<Session>(*this, std::move(socket));
      sessions_.insert(session);
      session->start();
    }  // cut: the socket closes as it goes out of scope
    accept();
  });
}

}  // namespace cairn::chaos
