#include "broker/metrics/share_collector.h"

#include <algorithm>
#include <string>

#include "broker/metrics/metric_samples.h"

namespace cairn::broker {

std::vector<prometheus::MetricFamily> ShareCollector::Collect() const {
  auto members = metric_family("cairn_share_group_members", "Members of a share group seen lately");
  auto dead = metric_family("cairn_share_dead_lettered_total",
                            "Records a share group moved to a dead-letter topic since the broker started",
                            prometheus::MetricType::Counter);
  auto acquired = metric_family("cairn_share_records_acquired", "Records of a partition held by a share group's members");
  auto retrying = metric_family("cairn_share_records_awaiting_redelivery",
                                "Records of a partition released, or whose lock ended, waiting for another delivery");
  auto lag = metric_family("cairn_share_lag_offsets",
                           "Offsets of a partition a share group has not finished: its high watermark minus the "
                           "share group's start offset");
  for (const auto& name : shares_.groups()) {
    auto group = shares_.describe(name);
    if (!group.ok()) continue;  // deleted between the two calls
    add_sample(members, {{"group", name}}, static_cast<double>(group->members.size()));
    add_sample(dead, {{"group", name}}, static_cast<double>(group->dead_lettered));
    for (const auto& p : group->partitions) {
      std::vector<prometheus::ClientMetric::Label> labels{
          {"group", name}, {"topic", p.tp.topic}, {"partition", std::to_string(p.tp.partition)}};
      add_sample(acquired, labels, static_cast<double>(p.acquired));
      add_sample(retrying, labels, static_cast<double>(p.awaiting_redelivery));
      add_sample(lag, labels, static_cast<double>(std::max<int64_t>(0, p.high_watermark - p.start)));
    }
  }
  return {members, dead, acquired, retrying, lag};
}

}  // namespace cairn::broker
