#include "broker/cluster/replica_assignment.h"

#include <algorithm>
#include <map>
#include <optional>

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

namespace {

std::map<int32_t, int64_t> replica_counts(const std::vector<PartitionPlacement>& placement,
                                          const std::vector<int32_t>& brokers) {
  std::map<int32_t, int64_t> counts;
  for (int32_t id : brokers) counts[id] = 0;
  for (const auto& p : placement) {
    for (int32_t id : p.replicas) ++counts[id];
  }
  return counts;
}

bool holds(const std::vector<int32_t>& replicas, int32_t id) {
  return std::find(replicas.begin(), replicas.end(), id) != replicas.end();
}

}  // namespace

Result<std::vector<PartitionMovePlan>> plan_decommission(const std::vector<PartitionPlacement>& placement,
                                                         int32_t broker,
                                                         const std::vector<int32_t>& brokers) {
  auto counts = replica_counts(placement, brokers);
  std::vector<PartitionMovePlan> moves;
  for (const auto& p : placement) {
    auto at = std::find(p.replicas.begin(), p.replicas.end(), broker);
    if (at == p.replicas.end()) continue;
    std::optional<int32_t> best;
    for (int32_t id : brokers) {
      if (id == broker || holds(p.replicas, id)) continue;
      if (!best || counts[id] < counts[*best]) best = id;
    }
    if (!best) {
      return error(ErrorCode::invalid_request,
                   "{}/{} has {} replicas and no other live broker can take the one on broker {}: "
                   "start the brokers that are down, or add one to the cluster first",
                   p.topic, p.partition, p.replicas.size(), broker);
    }
    ++counts[*best];
    PartitionMovePlan move{p, p.replicas};
    move.to[static_cast<size_t>(at - p.replicas.begin())] = *best;
    moves.push_back(std::move(move));
  }
  return moves;
}

std::vector<PartitionMovePlan> plan_add(const std::vector<PartitionPlacement>& placement, int32_t broker,
                                        const std::vector<int32_t>& brokers) {
  auto counts = replica_counts(placement, brokers);
  int64_t total = 0;
  for (const auto& [id, count] : counts) {
    if (holds(brokers, id)) total += count;
  }
  int64_t share = brokers.empty() ? 0 : total / static_cast<int64_t>(brokers.size());
  std::vector<PartitionMovePlan> moves;
  std::vector<bool> moved(placement.size(), false);
  while (counts[broker] < share) {
    // The partition whose most loaded replica is the most loaded broker of all.
    std::optional<size_t> pick;
    int32_t from = -1;
    for (size_t i = 0; i < placement.size(); ++i) {
      const auto& replicas = placement[i].replicas;
      if (moved[i] || holds(replicas, broker)) continue;
      for (int32_t id : replicas) {
        if (!pick || counts[id] > counts[from]) {
          pick = i;
          from = id;
        }
      }
    }
    // Moving from a broker holding at most one more than `broker` would not even anything.
    if (!pick || counts[from] <= counts[broker] + 1) break;
    const auto& p = placement[*pick];
    PartitionMovePlan move{p, p.replicas};
    *std::find(move.to.begin(), move.to.end(), from) = broker;
    moved[*pick] = true;
    --counts[from];
    ++counts[broker];
    moves.push_back(std::move(move));
  }
  return moves;
}

}  // namespace cairn::broker
