#pragma once

#include <asio/io_context.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <span>

#include "broker/broker_config.h"
#include "broker/produce_operation.h"
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
  // How one request's appends are answered.
  struct Answer {
    std::shared_ptr<ProduceOperation> op;
    bool wait_durable;  // acks=all: answered once committed
    const std::function<bool()>& abandoned;
  };

  std::shared_ptr<Partition> partition_for_produce(const TopicPartition& tp);
  // Whether to refuse the request now due (--test-refuse-produce-every).
  bool refuse_request();
  static bool same_partition_batches(const v1::PartitionProduce& a, const v1::PartitionProduce& b);
  // Answers entries [first, end) of `request`, all of one partition.
  void answer_run(const v1::ProduceRequest& request, int first, int end, v1::ProduceResponse& response,
                  const Answer& answer);
  // A producer sends each batch as its own entry; a partition's entries in
  // one request are appended as one (one write, one producer check) when
  // that can answer each: false, nothing written, when it cannot.
  bool append_together(Partition& partition, const v1::ProduceRequest& request, int first, int end,
                       v1::ProduceResponse& response, const Answer& answer);
  Result<storage::AppendResult> append(Partition& partition, const v1::PartitionProduce& data,
                                       const std::function<bool()>& abandoned);
  // Fills the results of what one append wrote (or why it failed) and,
  // for acks=all, completes them once it is committed. A single result
  // takes the append's offsets; several have theirs already.
  void answer_appended(Partition& partition, const Result<storage::AppendResult>& appended, int64_t bytes,
                       std::span<v1::PartitionProduceResult* const> results, const Answer& answer);

  const BrokerConfig& config_;
  TopicManager& topics_;
  asio::io_context& io_;
  BrokerMetrics& metrics_;
  std::atomic<int64_t> inflight_bytes_{0};
  std::atomic<int64_t> responses_{0};
  std::atomic<int64_t> requests_{0};
};

}  // namespace cairn::broker
