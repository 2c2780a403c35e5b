#include "broker/cluster/replica_assignment.h"

#include <algorithm>

namespace cairn::broker {

Result<std::vector<std::vector<int32_t>>> assign_replicas(std::vector<int32_t> brokers,
                                                          int32_t partitions,
                                                          int32_t replication_factor,
                                                          uint32_t first) {
  std::sort(brokers.begin(), brokers.end());
  brokers.erase(std::unique(brokers.begin(), brokers.end()), brokers.end());
  auto n = static_cast<int32_t>(brokers.size());
  if (replication_factor < 1 || replication_factor > n) {
    return error(ErrorCode::invalid_request,
                 "replication factor {} needs {} broker(s), and the cluster has {}; use a factor "
                 "from 1 to {}",
                 replication_factor, replication_factor, n, n);
  }
  std::vector<std::vector<int32_t>> out(static_cast<size_t>(partitions));
  for (int32_t p = 0; p < partitions; ++p) {
    for (int32_t r = 0; r < replication_factor; ++r) {
      out[static_cast<size_t>(p)].push_back(
          brokers[(first + static_cast<uint32_t>(p) + static_cast<uint32_t>(r)) % static_cast<uint32_t>(n)]);
    }
  }
  return out;
}

}  // namespace cairn::broker
