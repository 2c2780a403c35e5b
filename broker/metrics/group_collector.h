#pragma once

#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "broker/group/group_coordinator.h"
#include "broker/topic_manager.h"

namespace cairn::broker {

// Consumer-group gauges of the groups this broker coordinates, read when
// Prometheus scrapes: members per group and, per partition a group
// committed to, the committed offset and, where this broker hosts the
// partition, the lag (its high watermark minus the committed offset). The
// lag of a partition hosted elsewhere comes from a recording rule over
// both brokers' series (deploy/prometheus-rules.yml).
class GroupCollector final : public prometheus::Collectable {
 public:
  GroupCollector(GroupCoordinator& groups, const TopicManager& topics) : groups_(groups), topics_(topics) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  GroupCoordinator& groups_;
  const TopicManager& topics_;
};

}  // namespace cairn::broker
