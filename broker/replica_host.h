#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "broker/partition.h"
#include "proto/status.h"
#include "proto/topic_partition.h"
#include "storage/partition_log.h"

namespace cairn::broker {

// How a broker of a cluster serves the partition replicas it hosts: the
// TopicManager opens the log, the host makes it a replica of its Raft group
// (broker/cluster/cluster_replicas.h). A broker running alone has none.
class ReplicaHost {
 public:
  virtual ~ReplicaHost() = default;
  // This broker's id: it hosts the partitions whose replicas name it.
  virtual int32_t self() const = 0;
  // Serves `log` as this broker's replica of `tp`, a group of `replicas`.
  virtual Result<std::shared_ptr<Partition>> serve(const TopicPartition& tp,
                                                   std::shared_ptr<storage::PartitionLog> log,
                                                   const std::vector<int32_t>& replicas) = 0;
  // Stops a replica whose partition is being deleted and forgets its Raft
  // state (term, vote), so that a topic created later under the same name
  // starts a fresh group.
  virtual Status forget(Partition& partition) = 0;
};

}  // namespace cairn::broker
