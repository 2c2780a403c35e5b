#include "broker/cluster/cluster_replicas.h"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "broker/raft_state_file.h"

namespace cairn::broker {

std::string ClusterReplicas::state_path(const TopicPartition& tp, int64_t topic_id) const {
  return fmt::format("{}/{}-{}.{}", state_dir_, tp.topic, tp.partition, topic_id);
}

Result<std::shared_ptr<Partition>> ClusterReplicas::serve(
    const TopicPartition& tp, std::shared_ptr<storage::PartitionLog> log,
    const std::vector<int32_t>& replicas, int64_t topic_id) {
  auto durable = RaftStateFile::open(env_, state_path(tp, topic_id));
  if (!durable.ok()) return durable.status();
  auto partition = Partition::serve_replicated(
      tp, std::move(log), manager_.setup_for(tp, replicas, std::move(*durable), topic_id));
  if (!partition.ok()) return partition.status();
  manager_.add(tp, (*partition)->replica(), topic_id);
  if (replicas.empty()) {
    spdlog::info("{}: a new replica, joining its group as its leader adds it", tp);
  } else {
    spdlog::info("{}: replica of a group of brokers {}", tp, fmt::join(replicas, ","));
  }
  return partition;
}

void ClusterReplicas::stop(Partition& partition) {
  manager_.remove(partition.tp());
  partition.replica()->stop();
}

bool ClusterReplicas::has_state(const TopicPartition& tp, int64_t topic_id) const {
  return env_.exists(state_path(tp, topic_id));
}

Status ClusterReplicas::forget(const TopicPartition& tp, int64_t topic_id) {
  // Already gone is fine: a crash after removing it replays the deletion.
  std::string path = state_path(tp, topic_id);
  if (!env_.exists(path)) return {};
  CAIRN_RETURN_IF_ERROR(env_.remove_file(path));
  return env_.sync_dir(state_dir_);
}

}  // namespace cairn::broker
