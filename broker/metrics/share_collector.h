#pragma once

#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "broker/share/share_coordinator.h"

namespace cairn::broker {

// Share-group (queue) gauges, read when Prometheus scrapes: members per
// group, records dead-lettered, and per partition the records held,
// awaiting redelivery and not yet done (lag).
class ShareCollector final : public prometheus::Collectable {
 public:
  explicit ShareCollector(ShareCoordinator& shares) : shares_(shares) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  ShareCoordinator& shares_;
};

}  // namespace cairn::broker
