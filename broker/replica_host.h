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
  // Serves `log` as this broker's replica of `tp`, in incarnation
  // `topic_id` of its topic (TopicSpec::topic_id): a group founded by
  // `replicas`, or, if empty, one this replica joins as its leader adds it.
  virtual Result<std::shared_ptr<Partition>> serve(const TopicPartition& tp,
                                                   std::shared_ptr<storage::PartitionLog> log,
                                                   const std::vector<int32_t>& replicas,
                                                   int64_t topic_id) = 0;
  // Deleting a partition, in this order: stop() its replica, remove its
  // log, then forget() its Raft state (term, vote). A crash between the
  // two leaves state without a log, never a log without the state that
  // says which terms it holds.
  virtual void stop(Partition& partition) = 0;
  virtual Status forget(const TopicPartition& tp, int64_t topic_id) = 0;
  // A replica of `tp` in incarnation `topic_id` ran here: it has Raft state
  // (it may have voted and acknowledged records).
  virtual bool has_state(const TopicPartition& tp, int64_t topic_id) const = 0;
};

}  // namespace cairn::broker
