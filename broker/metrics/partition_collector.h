#pragma once

#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "broker/topic_manager.h"

namespace cairn::broker {

// Per-partition gauges, read from the partitions this broker hosts when
// Prometheus scrapes (nothing is kept between scrapes): log start, high
// watermark, log end, size and segments; for replicas, the leader, the
// Raft term and leader changes, and, on the leader, how many replicas are
// caught up and how far each follower is behind.
class PartitionCollector final : public prometheus::Collectable {
 public:
  PartitionCollector(const TopicManager& topics, int32_t self) : topics_(topics), self_(self) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const TopicManager& topics_;
  const int32_t self_;
};

}  // namespace cairn::broker
