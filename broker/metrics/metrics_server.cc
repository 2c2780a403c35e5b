#include "broker/metrics/metrics_server.h"

#include <exception>

namespace cairn::broker {

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(
    const std::string& listen, const std::vector<std::shared_ptr<prometheus::Collectable>>& sources) {
  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    exposer = std::make_unique<prometheus::Exposer>(listen, /*num_threads=*/1);
  } catch (const std::exception& e) {  // civetweb could not bind
    return error(ErrorCode::io_error, "cannot serve metrics on {}: {}; give --metrics-listen a free host:port",
                 listen, e.what());
  }
  for (const auto& source : sources) exposer->RegisterCollectable(source);
  auto ports = exposer->GetListeningPorts();
  int port = ports.empty() ? 0 : ports.front();
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(exposer), sources, port));
}

}  // namespace cairn::broker
