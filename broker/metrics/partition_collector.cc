#include "broker/metrics/partition_collector.h"

#include <string>

#include "broker/metrics/metric_samples.h"

namespace cairn::broker {
namespace {

prometheus::MetricFamily gauge(std::string name, std::string help) {
  return metric_family(std::move(name), std::move(help));
}

prometheus::MetricFamily counter(std::string name, std::string help) {
  return metric_family(std::move(name), std::move(help), prometheus::MetricType::Counter);
}

void add(prometheus::MetricFamily& family, const TopicPartition& tp, double value,
         std::vector<prometheus::ClientMetric::Label> extra = {}) {
  std::vector<prometheus::ClientMetric::Label> labels{{"topic", tp.topic}, {"partition", std::to_string(tp.partition)}};
  labels.insert(labels.end(), extra.begin(), extra.end());
  add_sample(family, std::move(labels), value);
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
  auto term = gauge("cairn_partition_raft_term", "Raft term of this replica (replicated partitions)");
  auto role = gauge("cairn_partition_raft_role",
                    "1 for the role this replica has in its Raft group (replicated partitions): leader, follower, "
                    "learner, pre_candidate, candidate, or stopped (a failed write stopped it until it runs again)");
  auto leader_changes = counter("cairn_partition_leader_changes_total",
                                "Changes of the leader this replica knows: elections and transfers");
  auto repairing = gauge("cairn_partition_repairing",
                         "1 while this replica refills a log that disk damage cut (it neither votes nor "
                         "stands for election meanwhile), else 0");
  auto damage_repairs = counter("cairn_partition_damage_repairs_total",
                                "Times this replica found its log damaged (at start or on a read) and cut it "
                                "to fetch the rest again from the other replicas");
  auto follower_lag = gauge("cairn_partition_follower_lag_offsets",
                            "On the leader, per follower: offsets of the leader's log it does not hold durably yet");
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
      if (!replica) continue;
      add(term, tp, static_cast<double>(replica->term().value));
      add(role, tp, 1.0, {{"role", std::string(replica->role())}});
      add(leader_changes, tp, static_cast<double>(replica->leader_changes()));
      add(repairing, tp, replica->repairing() ? 1.0 : 0.0);
      add(damage_repairs, tp, static_cast<double>(replica->damage_repairs()));
      for (const auto& [follower, lag] : replica->follower_lags()) {
        add(follower_lag, tp, static_cast<double>(lag), {{"follower", std::to_string(follower)}});
      }
    }
  }
  return {log_start, high_watermark, log_end, size, segments, leader, replicas, caught_up,
          term, role, leader_changes, repairing, damage_repairs, follower_lag};
}

}  // namespace cairn::broker
