#include "broker/metrics/partition_collector.h"

#include <string>

namespace cairn::broker {
namespace {

prometheus::MetricFamily gauge(std::string name, std::string help) {
  return {std::move(name), std::move(help), prometheus::MetricType::Gauge, {}};
}

void add(prometheus::MetricFamily& family, const TopicPartition& tp, double value) {
  prometheus::ClientMetric metric;
  metric.label = {{"topic", tp.topic}, {"partition", std::to_string(tp.partition)}};
  metric.gauge.value = value;
  family.metric.push_back(std::move(metric));
}

}  // namespace

std::vector<prometheus::MetricFamily> PartitionCollector::Collect() const {
  auto log_start = gauge("cairn_partition_log_start_offset", "First offset the partition still holds");
  auto high_watermark = gauge("cairn_partition_high_watermark", "Offsets below it are committed and readable");
  auto log_end = gauge("cairn_partition_log_end_offset", "Offset the next appended record gets");
  auto size = gauge("cairn_partition_size_bytes", "Bytes of the partition's segments on this broker");
  auto segments = gauge("cairn_partition_segments", "Segment files of the partition on this broker");
  auto leader = gauge("cairn_partition_leader", "Broker id of the partition's leader as this replica knows it; -1 unknown");
  auto replicas = gauge("cairn_partition_replicas", "Replicas assigned to the partition");
  auto caught_up = gauge("cairn_partition_caught_up_replicas",
                         "Replicas caught up with the leader (reported by the leader only); fewer than "
                         "cairn_partition_replicas: under-replicated");
  for (const auto& topic : topics_.topics()) {
    for (int32_t number = 0; number < static_cast<int32_t>(topic.partitions.size()); ++number) {
      const auto& partition = topic.partitions[static_cast<size_t>(number)];
      if (!partition) continue;  // hosted elsewhere
      const TopicPartition& tp = partition->tp();
      PartitionStats stats = partition->stats();
      add(log_start, tp, static_cast<double>(stats.log_start.value));
      add(high_watermark, tp, static_cast<double>(stats.high_watermark.value));
      add(log_end, tp, static_cast<double>(stats.log_end.value));
      add(size, tp, static_cast<double>(stats.size_bytes));
      add(segments, tp, static_cast<double>(stats.segments));
      add(replicas, tp, static_cast<double>(topic.replicas_of(number, self_).size()));
      const auto& replica = partition->replica();
      add(leader, tp, replica ? replica->leader().value_or(-1) : self_);
      if (!replica || replica->is_leader()) {
        add(caught_up, tp, replica ? static_cast<double>(replica->caught_up_replicas().size()) : 1.0);
      }
    }
  }
  return {log_start, high_watermark, log_end, size, segments, leader, replicas, caught_up};
}

}  // namespace cairn::broker
