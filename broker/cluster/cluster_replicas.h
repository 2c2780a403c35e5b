#pragma once

#include <string>

#include "broker/replica_host.h"
#include "broker/replication/replica_manager.h"
#include "storage/env.h"

namespace cairn::broker {

// The partition replicas of one broker of a cluster: each a Raft group run
// by the ReplicaManager, its term and vote in a RaftStateFile at
// <state_dir>/<topic>-<partition>.<topic id>.
class ClusterReplicas final : public ReplicaHost {
 public:
  ClusterReplicas(int32_t self, ReplicaManager& manager, storage::Env& env, std::string state_dir)
      : self_(self), manager_(manager), env_(env), state_dir_(std::move(state_dir)) {}

  int32_t self() const override { return self_; }
  Result<std::shared_ptr<Partition>> serve(const TopicPartition& tp,
                                           std::shared_ptr<storage::PartitionLog> log,
                                           const std::vector<int32_t>& replicas,
                                           int64_t topic_id) override;
  void stop(Partition& partition) override;
  Status forget(const TopicPartition& tp, int64_t topic_id) override;
  bool has_state(const TopicPartition& tp, int64_t topic_id) const override;

 private:
  std::string state_path(const TopicPartition& tp, int64_t topic_id) const;

  const int32_t self_;
  ReplicaManager& manager_;
  storage::Env& env_;
  const std::string state_dir_;
};

}  // namespace cairn::broker
