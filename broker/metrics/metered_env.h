#pragma once

#include <memory>
#include <string>

#include "broker/metrics/broker_metrics.h"
#include "storage/forwarding_env.h"

namespace cairn::broker {

// Another Env whose file syncs are timed into BrokerMetrics (fsync latency,
// and the bytes each sync made durable: the group-commit size). Storage
// stays free of metrics; the broker layers this over the Env it uses.
class MeteredEnv final : public storage::ForwardingEnv {
 public:
  MeteredEnv(storage::Env& base, BrokerMetrics& metrics) : ForwardingEnv(base), metrics_(metrics) {}

  Result<std::unique_ptr<storage::File>> open_file(const std::string& path, bool create) override;

 private:
  BrokerMetrics& metrics_;
};

}  // namespace cairn::broker
