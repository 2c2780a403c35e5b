#pragma once

#include <asio/io_context.hpp>

#include <atomic>
#include <functional>
#include <memory>

#include "broker/broker_config.h"
#include "broker/metrics/broker_metrics.h"
#include "broker/topic_manager.h"
#include "cairn/v1/broker.pb.h"
#include "storage/partition_log.h"

namespace cairn::broker {

// Appends a produce request's partitions and arranges its acknowledgement;
// shared by the unary Produce and the ProduceStream RPCs. Thread-safe.
//
// Memory is bounded by --max-inflight-produce-bytes: a request reserves its
// size until acknowledged, and is refused (resource_exhausted) beyond it.
class ProduceHandler {
 public:
  ProduceHandler(const BrokerConfig& config, TopicManager& topics, asio::io_context& io,
                 BrokerMetrics& metrics);

  // Appends every partition of `request` (each whole or not at all), fills
  // `response`, and calls `done` once it may be sent: at once for acks 0/1,
  // when durable (or timed out) for acks=all. `request` and `response` must
  // stay alive until `done`. Returns false, calling nothing, when the byte
  // budget is exhausted.
  // `abandoned` (Partition::append) says whether the producer gave up on
  // the request: its stream was cancelled.
  bool handle(const v1::ProduceRequest& request, v1::ProduceResponse* response,
              std::function<void()> done, const std::function<bool()>& abandoned = {});

  // Whether to drop the response now due (--test-drop-produce-responses-every).
  bool drop_response();

  BrokerMetrics& metrics() { return metrics_; }

 private:
  std::shared_ptr<Partition> partition_for_produce(const TopicPartition& tp);
  Result<storage::AppendResult> append(Partition& partition, const v1::PartitionProduce& data,
                                       const std::function<bool()>& abandoned);

  const BrokerConfig& config_;
  TopicManager& topics_;
  asio::io_context& io_;
  BrokerMetrics& metrics_;
  std::atomic<int64_t> inflight_bytes_{0};
  std::atomic<int64_t> responses_{0};
};

}  // namespace cairn::broker
