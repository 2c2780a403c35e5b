#pragma once

#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "broker/cluster/controller.h"

namespace cairn::broker {

// The controller as this broker sees it, read when Prometheus scrapes: who
// leads it, how far this broker applied the metadata log, and, on the
// controller leader, how many brokers are live and how many decommissioned.
class ControllerCollector final : public prometheus::Collectable {
 public:
  explicit ControllerCollector(const Controller& controller) : controller_(controller) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const Controller& controller_;
};

}  // namespace cairn::broker
