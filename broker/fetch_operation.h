#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>

#include "broker/read_waiters.h"
#include "broker/topic_manager.h"
#include "cairn/v1/broker.pb.h"

namespace cairn::broker {

// What one fetch may cost the broker (from BrokerConfig).
struct FetchLimits {
  int32_t max_wait_ms = 30'000;    // cap on the long-poll wait
  size_t max_bytes = 50 << 20;     // cap on a response's record bytes, whatever the client asks
  size_t send_limit = 64 << 20;    // the gRPC send limit: no response may exceed it
};

// One Fetch RPC: reads every requested partition up to its high watermark;
// if fewer than min_bytes are available it waits — registered with each
// partition's ReadWaiters — until more are, or until max_wait_ms passes,
// then answers with what it has: calls `finish` exactly once, the response
// then complete (the RPC layer sends it; fuzz tests inspect it).
//
// Reads run on the calling gRPC thread the first time and on the io_context
// afterwards (not on the flusher thread that wakes it, but for the last
// attempt when the broker shuts down). Bounded: a response
// holds at most min(request max_bytes, FetchLimits::max_bytes), except that
// the first partition with data always gets its first batch so readers
// progress; it never exceeds the send limit (a first batch that alone would
// is answered with record_too_large instead of a response gRPC would drop).
class FetchOperation : public ReadWaiter, public std::enable_shared_from_this<FetchOperation> {
 public:
  FetchOperation(TopicManager& topics, asio::io_context& io, const v1::FetchRequest* request,
                 v1::FetchResponse* response, std::function<void()> finish,
                 const FetchLimits& limits, const std::atomic<bool>& shutting_down);

  void start();
  void wake() override;

 private:
  void attempt(bool deadline_passed);
  // Fills the response afresh; returns bytes gathered and whether any
  // partition had an error.
  size_t read_all(bool* any_error);
  void read_partition(const v1::PartitionFetch& want, size_t budget, storage::FirstBatch first,
                      v1::FetchedPartition* out);
  void register_waiters();

  TopicManager& topics_;
  asio::io_context& io_;
  const v1::FetchRequest* request_;
  v1::FetchResponse* response_;
  const std::function<void()> finish_;
  const FetchLimits limits_;
  const int32_t max_wait_ms_;
  const std::atomic<bool>& shutting_down_;  // answer at once: the server is stopping
  std::mutex mutex_;
  bool finished_ = false;
  std::unique_ptr<asio::steady_timer> timer_;
};

}  // namespace cairn::broker
