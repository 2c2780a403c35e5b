#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "cairn/v1/broker.pb.h"
#include "proto/status.h"

namespace cairn::broker {

// One produce request waiting for its partitions' appends to become durable
// (acks=all). Calls `done` exactly once: when every partition is done or
// when the timeout fires, whichever comes first; partitions not done by
// then are reported as request_timed_out (their data may still become
// durable, as with Kafka).
//
// Thread-safety: complete() may run on any thread (the flusher's); results
// are written under the operation's mutex and never after `done`.
class ProduceOperation : public std::enable_shared_from_this<ProduceOperation> {
 public:
  explicit ProduceOperation(std::function<void()> done);

  // Registers a partition result to wait for.
  void expect(v1::PartitionProduceResult* result);
  // A partition's append became durable (or failed).
  void complete(v1::PartitionProduceResult* result, const Status& status);
  // Called once every partition is registered: nothing finishes before, so
  // a fast acknowledgement cannot send a half-filled response. Starts the
  // timeout; finishes at once if nothing is pending.
  void arm(asio::io_context& io, int32_t timeout_ms);

 private:
  void finish_locked();

  std::function<void()> done_;
  std::mutex mutex_;
  std::vector<v1::PartitionProduceResult*> waiting_;
  bool armed_ = false;
  bool finished_ = false;
  std::unique_ptr<asio::steady_timer> timer_;
};

}  // namespace cairn::broker
