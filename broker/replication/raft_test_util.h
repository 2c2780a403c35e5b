#pragma once

// Test helpers for broker-to-broker Raft over real gRPC on 127.0.0.1.

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "broker/replication/raft_service.h"

namespace cairn::broker::testing {

using namespace std::chrono_literals;

// Runs an io_context on a thread of its own (the transport's redial timers).
struct IoThread {
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::thread thread{[this] { io.run(); }};
  ~IoThread() {
    work.reset();
    io.stop();
    thread.join();
  }
};

// A broker's receiving end: a gRPC server on 127.0.0.1 with the Raft
// service, recording what it is given (or handing it to `on_message`).
class Endpoint {
 public:
  explicit Endpoint(int32_t id, int port = 0, RaftService::Deliver on_message = {})
      : service_(id, on_message ? on_message : [this](std::vector<AddressedMessage> frame) {
          std::lock_guard lock(mutex_);
          for (auto& m : frame) received_.emplace_back(m.group, std::move(m.message));
          changed_.notify_all();
        }) {
    grpc::ServerBuilder builder;
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    builder.AddListeningPort("127.0.0.1:" + std::to_string(port),
                             grpc::InsecureServerCredentials(), &port_);
    RaftService::allow_peer_keepalive(builder);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    REQUIRE(server_);
    REQUIRE(port_ > 0);
  }
  ~Endpoint() { server_->Shutdown(std::chrono::system_clock::now() + 1s); }

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  const RaftService& service() const { return service_; }

  // Waits until `count` messages arrived (at most 10 s); returns them.
  std::vector<std::pair<TopicPartition, raft::Message>> wait_for(size_t count) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, 10s, [&] { return received_.size() >= count; });
    return received_;
  }

 private:
  RaftService service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::pair<TopicPartition, raft::Message>> received_;
};

}  // namespace cairn::broker::testing
