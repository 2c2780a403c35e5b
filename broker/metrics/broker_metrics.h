#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "cairn/v1/broker.pb.h"

namespace cairn::broker {

// The broker's counters and histograms, in one Prometheus registry that
// MetricsServer serves (names per Prometheus conventions: _total, _seconds,
// _bytes). Collected whether or not they are served: each costs a few
// atomic adds per request. Thread-safe.
class BrokerMetrics {
 public:
  using Duration = std::chrono::steady_clock::duration;

  BrokerMetrics();

  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

  // Records appended to `topic` by a produce request: how many, and bytes.
  void appended(const std::string& topic, int64_t records, int64_t bytes);
  // A produce request answered, `took` after it arrived; counts its partitions' errors.
  void produce_answered(const v1::ProduceResponse& response, Duration took);
  // A fetch answered: its bytes per topic, its latency (long-poll wait
  // included) and its partitions' errors.
  void fetch_answered(const v1::FetchResponse& response, Duration took);
  // A file sync (fdatasync) that covered `bytes` appended since the last one.
  void synced(Duration took, uint64_t bytes);
  // A produce request of `partitions` refused whole: the broker's bound on
  // bytes awaiting acknowledgement was reached (backpressure).
  void produce_refused(int partitions);
  // A producer's ProduceStream opened or ended.
  void produce_stream_opened() { produce_streams_.Increment(); }
  void produce_stream_closed() { produce_streams_.Decrement(); }
  // Drops the per-topic series of a deleted topic.
  void forget_topic(const std::string& topic);

 private:
  void count_error(const char* request, v1::ErrorCode code);

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& records_in_;
  prometheus::Family<prometheus::Counter>& bytes_in_;
  prometheus::Family<prometheus::Counter>& bytes_out_;
  prometheus::Family<prometheus::Counter>& errors_;
  prometheus::Histogram& produce_seconds_;
  prometheus::Histogram& fetch_seconds_;
  prometheus::Histogram& sync_seconds_;
  prometheus::Histogram& sync_bytes_;
  prometheus::Gauge& produce_streams_;
};

}  // namespace cairn::broker
