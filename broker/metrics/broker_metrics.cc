#include "broker/metrics/broker_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>

namespace cairn::broker {
namespace {

double seconds(BrokerMetrics::Duration d) { return std::chrono::duration<double>(d).count(); }

// 100 µs to 30 s, about three buckets a decade: fsyncs and acks=all
// produces live in the low milliseconds, long-polling fetches up to the
// client's wait.
prometheus::Histogram::BucketBoundaries latency_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
          0.25,   0.5,     1,      2.5,   5,      10,    30};
}

// 4 KiB to 64 MiB, by powers of four: how much one group commit covers.
prometheus::Histogram::BucketBoundaries size_buckets() {
  prometheus::Histogram::BucketBoundaries out;
  for (double b = 4096; b <= 64.0 * 1024 * 1024; b *= 4) out.push_back(b);
  return out;
}

prometheus::Histogram& histogram(prometheus::Registry& registry, const std::string& name,
                                 const std::string& help, prometheus::Histogram::BucketBoundaries buckets) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(registry).Add({}, std::move(buckets));
}

prometheus::Family<prometheus::Counter>& counter(prometheus::Registry& registry, const std::string& name,
                                                 const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
}

}  // namespace

BrokerMetrics::BrokerMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      records_in_(counter(*registry_, "cairn_records_in_total", "Records appended by producers, per topic")),
      bytes_in_(counter(*registry_, "cairn_bytes_in_total", "Record-batch bytes appended by producers, per topic")),
      bytes_out_(counter(*registry_, "cairn_bytes_out_total", "Record-batch bytes sent to fetchers, per topic")),
      errors_(counter(*registry_, "cairn_errors_total",
                      "Partitions answered with an error, by request (produce, fetch) and error code")),
      produce_seconds_(histogram(*registry_, "cairn_produce_request_seconds",
                                 "Produce requests from arrival to answer (acks=all: until committed)",
                                 latency_buckets())),
      fetch_seconds_(histogram(*registry_, "cairn_fetch_request_seconds",
                               "Fetch requests from arrival to answer, long-poll wait included", latency_buckets())),
      sync_seconds_(histogram(*registry_, "cairn_fsync_seconds", "File syncs (fdatasync) of segments and state",
                              latency_buckets())),
      sync_bytes_(histogram(*registry_, "cairn_group_commit_bytes",
                            "Bytes one file sync made durable (a group commit)", size_buckets())),
      produce_streams_(prometheus::BuildGauge()
                           .Name("cairn_produce_streams_open")
                           .Help("ProduceStream calls open: one per producer per broker it writes to")
                           .Register(*registry_)
                           .Add({})) {}

void BrokerMetrics::appended(const std::string& topic, int64_t records, int64_t bytes) {
  records_in_.Add({{"topic", topic}}).Increment(static_cast<double>(records));
  bytes_in_.Add({{"topic", topic}}).Increment(static_cast<double>(bytes));
}

void BrokerMetrics::produce_answered(const v1::ProduceResponse& response, Duration took) {
  produce_seconds_.Observe(seconds(took));
  for (const auto& result : response.results()) {
    if (result.error().code() != v1::NONE) count_error("produce", result.error().code());
  }
}

void BrokerMetrics::fetch_answered(const v1::FetchResponse& response, Duration took) {
  fetch_seconds_.Observe(seconds(took));
  for (const auto& p : response.partitions()) {
    if (p.error().code() != v1::NONE) count_error("fetch", p.error().code());
    if (!p.batches().empty()) bytes_out_.Add({{"topic", p.topic()}}).Increment(static_cast<double>(p.batches().size()));
  }
}

void BrokerMetrics::synced(Duration took, uint64_t bytes) {
  sync_seconds_.Observe(seconds(took));
  sync_bytes_.Observe(static_cast<double>(bytes));
}

void BrokerMetrics::produce_refused(int partitions) {
  errors_.Add({{"request", "produce"}, {"code", v1::ErrorCode_Name(v1::RESOURCE_EXHAUSTED)}})
      .Increment(static_cast<double>(partitions));
}

void BrokerMetrics::forget_topic(const std::string& topic) {
  for (auto* family : {&records_in_, &bytes_in_, &bytes_out_}) {
    family->Remove(&family->Add({{"topic", topic}}));
  }
}

void BrokerMetrics::count_error(const char* request, v1::ErrorCode code) {
  errors_.Add({{"request", request}, {"code", v1::ErrorCode_Name(code)}}).Increment();
}

}  // namespace cairn::broker
