#include "broker/cluster/cluster_replicas.h"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "broker/raft_state_file.h"

namespace cairn::broker {

std::string ClusterReplicas::state_path(const TopicPartition& tp) const {
  return fmt::format("{}/{}-{}", state_dir_, tp.topic, tp.partition);
}

Result<std::shared_ptr<Partition>> ClusterReplicas::serve(
    const TopicPartition& tp, std::shared_ptr<storage::PartitionLog> log,
    const std::vector<int32_t>& replicas) {
  auto durable = RaftStateFile::open(env_, state_path(tp));
  if (!durable.ok()) return durable.status();
  auto partition =
      Partition::serve_replicated(tp, std::move(log), manager_.setup_for(tp, replicas, std::move(*durable)));
  if (!partition.ok()) return partition.status();
  manager_.add(tp, (*partition)->replica());
  spdlog::info("{}: replica of a group of brokers {}", tp, fmt::join(replicas, ","));
  return partition;
}

Status ClusterReplicas::forget(Partition& partition) {
  manager_.remove(partition.tp());
  partition.replica()->stop();
  // Already gone is fine: a crash after removing it replays the deletion.
  std::string path = state_path(partition.tp());
  if (!env_.exists(path)) return {};
  CAIRN_RETURN_IF_ERROR(env_.remove_file(path));
  return env_.sync_dir(state_dir_);
}

}  // namespace cairn::broker
