#pragma once

#include <memory>
#include <string>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>

#include "proto/status.h"

namespace cairn::broker {

// Serves GET /metrics in the Prometheus text format over HTTP
// (prometheus-cpp's exposer), on its own port (cairnd --metrics-listen).
class MetricsServer {
 public:
  // Listens on `host:port` (port 0: any free one) and serves what `sources`
  // collect, keeping them alive (the exposer holds them only weakly); what
  // they read must outlive the server.
  static Result<std::unique_ptr<MetricsServer>> start(const std::string& listen,
                                                      const std::vector<std::shared_ptr<prometheus::Collectable>>& sources);
  int port() const { return port_; }

 private:
  MetricsServer(std::unique_ptr<prometheus::Exposer> exposer,
                std::vector<std::shared_ptr<prometheus::Collectable>> sources, int port)
      : sources_(std::move(sources)), exposer_(std::move(exposer)), port_(port) {}

  std::vector<std::shared_ptr<prometheus::Collectable>> sources_;  // outlive the exposer
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
};

}  // namespace cairn::broker
