#include "broker/metrics/group_collector.h"

#include <algorithm>
#include <string>

#include "broker/metrics/metric_samples.h"

namespace cairn::broker {

std::vector<prometheus::MetricFamily> GroupCollector::Collect() const {
  auto members = metric_family("cairn_group_members", "Members of a consumer group (on its coordinator)");
  auto committed = metric_family("cairn_group_committed_offset",
                         "Offset a consumer group committed for a partition (on its coordinator)");
  auto lag = metric_family("cairn_group_lag_offsets",
                   "Records a consumer group has yet to read of a partition: its high watermark minus "
                   "the committed offset (on a coordinator that hosts the partition)");
  for (const auto& group : groups_.snapshots()) {
    add_sample(members, {{"group", group.name}}, static_cast<double>(group.members.size()));
    for (const auto& [tp, offset] : group.offsets) {
      std::vector<prometheus::ClientMetric::Label> labels{
          {"group", group.name}, {"topic", tp.topic}, {"partition", std::to_string(tp.partition)}};
      add_sample(committed, labels, static_cast<double>(offset.offset));
      if (auto partition = topics_.partition(tp)) {
        add_sample(lag, labels, static_cast<double>(std::max<int64_t>(0, partition->high_watermark().value - offset.offset)));
      }
    }
  }
  return {members, committed, lag};
}

}  // namespace cairn::broker
