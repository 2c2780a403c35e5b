#pragma once

#include <string>
#include <vector>

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>

namespace cairn::broker {

// Building the families a collector returns at each scrape.

inline prometheus::MetricFamily metric_family(std::string name, std::string help,
                                              prometheus::MetricType type = prometheus::MetricType::Gauge) {
  return {std::move(name), std::move(help), type, {}};
}

// Adds a sample with `labels` (in the order given) to `family`, as its type wants.
inline void add_sample(prometheus::MetricFamily& family, std::vector<prometheus::ClientMetric::Label> labels,
                       double value) {
  prometheus::ClientMetric metric;
  metric.label = std::move(labels);
  if (family.type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family.metric.push_back(std::move(metric));
}

}  // namespace cairn::broker
