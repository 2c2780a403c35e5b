#include "broker/metrics/controller_collector.h"

#include <string>

#include "broker/metrics/metric_samples.h"

namespace cairn::broker {
namespace {

prometheus::MetricFamily gauge(std::string name, std::string help, double value) {
  auto family = metric_family(std::move(name), std::move(help));
  add_sample(family, {}, value);
  return family;
}

}  // namespace

std::vector<prometheus::MetricFamily> ControllerCollector::Collect() const {
  std::vector<prometheus::MetricFamily> out;
  out.push_back(gauge("cairn_controller_leader", "Broker id of the controller leader as this broker knows it; -1 unknown",
                      controller_.leader().value_or(-1)));
  out.push_back(gauge("cairn_controller_metadata_applied_offset",
                      "Offset of the last metadata record this broker applied",
                      static_cast<double>(controller_.applied().value)));
  out.push_back(gauge("cairn_controller_decommissioned_brokers", "Brokers decommissioned (new replicas avoid them)",
                      static_cast<double>(controller_.decommissioned_brokers().size())));
  // Only the controller leader can tell, once it has led a few seconds.
  if (auto live = controller_.live_brokers()) {
    out.push_back(gauge("cairn_controller_live_brokers",
                        "Brokers the controller leader heard from in the last 5 s (on the controller leader)",
                        static_cast<double>(live->size())));
  }
  return out;
}

}  // namespace cairn::broker
