#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "cairn/v1/broker.pb.h"
#include "proto/status.h"

namespace cairn::broker {

// One Produce RPC waiting for its partitions' appends to become durable
// (acks=all). Finishes the RPC exactly once: when every partition is done
// or when the timeout fires, whichever comes first; partitions that had not
// finished are then reported as request_timed_out (their data may still
// become durable, as with Kafka).
//
// Thread-safety: complete() may run on any thread (the flusher's); results
// are written under the operation's mutex and never after the finish.
class ProduceOperation : public std::enable_shared_from_this<ProduceOperation> {
 public:
  ProduceOperation(grpc::ServerUnaryReactor* reactor, v1::ProduceResponse* response,
                   std::function<void()> on_finish);

  // Registers a partition result to wait for.
  void expect(v1::PartitionProduceResult* result);
  // A partition's append became durable (or failed).
  void complete(v1::PartitionProduceResult* result, const Status& status);
  // Starts the timeout; finishes at once if nothing is pending.
  void arm(asio::io_context& io, int32_t timeout_ms);

 private:
  void finish_locked();

  grpc::ServerUnaryReactor* reactor_;
  v1::ProduceResponse* response_;
  std::function<void()> on_finish_;
  std::mutex mutex_;
  std::vector<v1::PartitionProduceResult*> waiting_;
  bool finished_ = false;
  std::unique_ptr<asio::steady_timer> timer_;
};

}  // namespace cairn::broker
