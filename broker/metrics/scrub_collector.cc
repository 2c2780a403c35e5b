#include "broker/metrics/scrub_collector.h"

#include <string>

#include "broker/metrics/metric_samples.h"

namespace cairn::broker {
namespace {

prometheus::MetricFamily counter(std::string name, std::string help, uint64_t value) {
  auto family = metric_family(std::move(name), std::move(help), prometheus::MetricType::Counter);
  add_sample(family, {}, static_cast<double>(value));
  return family;
}

}  // namespace

std::vector<prometheus::MetricFamily> ScrubCollector::Collect() const {
  storage::ScrubStats stats = store_.scrub_stats();
  return {counter("cairn_scrub_bytes_total", "Stored bytes read back and verified in the background", stats.bytes),
          counter("cairn_scrub_passes_total", "Background verification passes finished over every partition",
                  stats.passes),
          counter("cairn_scrub_damage_found_total",
                  "Background reads that found stored bytes failing their checksum (a replicated partition "
                  "repairs itself from the other replicas; cairn_partition_damage_repairs_total)",
                  stats.damage_found)};
}

}  // namespace cairn::broker
