#pragma once

#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

namespace cairn::broker {

// Open connections to this broker's gRPC server (clients and peer brokers),
// counted when Prometheus scrapes, from gRPC's channelz registry: the
// server's sockets.
class ConnectionCollector final : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

}  // namespace cairn::broker
