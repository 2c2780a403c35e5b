#pragma once

#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "storage/store.h"

namespace cairn::broker {

// The background verification of stored bytes (storage::Scrubber), read
// when Prometheus scrapes: bytes verified, passes finished, damage found.
class ScrubCollector final : public prometheus::Collectable {
 public:
  explicit ScrubCollector(const storage::Store& store) : store_(store) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const storage::Store& store_;
};

}  // namespace cairn::broker
