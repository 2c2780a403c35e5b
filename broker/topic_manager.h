#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "broker/partition.h"
#include "broker/replica_host.h"
#include "broker/topic_registry.h"
#include "proto/topic_partition.h"
#include "storage/log_config.h"
#include "storage/partition_log.h"
#include "storage/store.h"

namespace cairn::broker {

// A topic with its effective config and partitions.
struct Topic {
  std::string name;
  std::map<std::string, std::string> config_overrides;
  storage::LogConfig config;
  // By partition number; in a cluster, null where this broker hosts no replica.
  std::vector<std::shared_ptr<Partition>> partitions;
  std::vector<std::vector<int32_t>> replicas;  // per partition, in a cluster (TopicSpec)
  int64_t topic_id = 0;                        // in a cluster (TopicSpec)
  std::vector<std::vector<int32_t>> targets;   // per partition, in a cluster (TopicSpec)
  std::vector<int64_t> move_ids;               // per partition, in a cluster (TopicSpec)

  // Partition p's replicas: broker `self` alone when not replicated.
  std::vector<int32_t> replicas_of(int32_t p, int32_t self) const;
  // Where partition p is moving to; empty when it is not moving.
  std::vector<int32_t> target_of(int32_t p) const;
  // The id of partition p's move, while it moves.
  int64_t move_id_of(int32_t p) const;
  // Partition p's leader as broker `self` knows it; -1 when unknown (an
  // election runs, or no replica is hosted here).
  int32_t leader_of(int32_t p, int32_t self) const;
};

// The topics a broker serves: their partitions in the store. A broker alone
// keeps their specs in the topic registry file; in a cluster the controller
// holds them and applies each change here, and the partitions this broker
// hosts are Raft replicas (ReplicaHost). Thread-safe.
//
// Locks, and the order in which they nest (a lock may be held while taking
// one further right, never one further left, so no cycle can form):
//   TopicManager::changes_mutex_ -> GroupCoordinator::mutex_
//     -> TopicManager::mutex_ -> storage locks (Store, PartitionLog)
// changes_mutex_ serialises create, alter and remove, and is held while they
// call out (closing a removed topic's logs completes its pending flush
// waiters, whose callbacks take the group coordinator's mutex; the removal
// listener takes it too). mutex_ guards only the map and is never held while
// calling out of the manager: the coordinator looks topics up under its own
// mutex. Nothing may take changes_mutex_ while holding the coordinator's.
class TopicManager {
 public:
  // Reopens every registered topic's partitions (recovering them); an empty
  // `registry_path` keeps no registry. `max_message_bytes_limit` (the
  // broker's --max-request-bytes) bounds the max.message.bytes a topic may
  // be created or altered with. A broker of a cluster passes its
  // `replica_host`: replicated topics' partitions are served through it,
  // and the registry is its image of the cluster metadata, which the
  // controller's changes update (metadata_applied()).
  static Result<std::unique_ptr<TopicManager>> open(storage::Store& store,
                                                    std::string registry_path,
                                                    storage::LogConfig defaults,
                                                    int64_t max_message_bytes_limit,
                                                    ReplicaHost* replica_host = nullptr);

  static constexpr int32_t kMaxPartitions = 10'000;

  Status create(const std::string& name, int32_t partitions,
                const std::map<std::string, std::string>& overrides) {
    return create(TopicSpec{name, partitions, overrides, {}, 0, {}, {}});
  }
  // Creates the broker's own compacted topic `name` unless it exists: the
  // state of a coordinator (group offsets, share-group deliveries), where
  // the newest record per key is all that matters.
  Status ensure_state_topic(const std::string& name, int32_t partitions);
  // Creates `name` with `partitions` and default configs unless it exists
  // (cairnd --auto-create-topics: a producer's first use creates it); a
  // failure is logged, and the caller finds no topic. In a cluster, asks
  // the creator set here instead (the controller), which creates it moments
  // later: the caller finds no topic yet, and its client retries.
  void create_on_first_use(const std::string& name, int32_t partitions);
  void set_first_use_creator(std::function<void(const std::string&)> creator) {
    first_use_creator_ = std::move(creator);
  }
  // `Limits::trust`: the change was checked against the limits already (a
  // change the controller committed): every broker applies it as is, even
  // one started with a smaller --max-request-bytes, so that all agree.
  enum class Limits { check, trust };
  Status create(const TopicSpec& spec, Limits limits = Limits::check);
  // What create() would refuse `spec` for, without creating it.
  Status check_new(const TopicSpec& spec, Limits limits = Limits::check) const;
  Status remove(const std::string& name);
  Status alter(const std::string& name, const std::map<std::string, std::string>& set,
               Limits limits = Limits::check);
  // What alter() would refuse, without changing anything.
  Status check_alter(const std::string& name, const std::map<std::string, std::string>& set,
                     Limits limits = Limits::check) const;

  // Called with a topic's name once remove() has taken it out of the registry,
  // holding changes_mutex_ (see the lock order above). Set before the manager
  // is shared between threads.
  void set_removal_listener(std::function<void(const std::string&)> listener) {
    removal_listener_ = std::move(listener);
  }

  // In a cluster: the offset of the metadata log up to which the
  // controller applied its changes here, saved with the topics they made.
  // Applying a change and marking it applied are two steps: a crash between
  // them applies that one change again, so each must be idempotent.
  Offset metadata_applied() const;
  Status mark_metadata_applied(Offset next);
  // In a cluster: what this broker holds of the cluster metadata (its
  // topics, placements and decommissioned brokers), with the metadata
  // offset it reflects; what the registry file saves.
  TopicRegistry image() const;
  // In a cluster: catches up with another broker's image, newer than this
  // broker's, when the metadata log no longer holds the changes between
  // them: removes the topics it lacks (or holds in another incarnation),
  // creates those it adds, and brings configs and replica placements to
  // it, as the missed changes would have; metadata_applied() becomes the
  // image's.
  Status install_image(const TopicRegistry& image);
  // In a cluster: the brokers that new replicas avoid (decommissioned).
  std::set<int32_t> decommissioned_brokers() const;
  Status set_decommissioned(int32_t broker, bool decommissioned);

  // In a cluster: partition `p` of incarnation `topic_id` of topic `name`
  // starts moving to the replicas `target` (preferred leader first). This
  // broker starts a replica if it is in `target` and hosts none: it joins
  // the Raft group once the leader adds it. Hosted replicas learn the target
  // (Replica::set_assignment); their leader changes the group's membership.
  // `move_id` names the move (the offset of its start in the metadata log).
  Status start_move(const std::string& name, int64_t topic_id, int32_t p,
                    const std::vector<int32_t>& target, int64_t move_id);
  // Move `move_id` is complete: the target becomes the replicas, and a
  // broker not among them stops its replica and removes its log and Raft
  // state. Nothing to do if that move is not the partition's current one.
  Status finish_move(const std::string& name, int64_t topic_id, int32_t p, int64_t move_id);

  // Null when the topic or partition does not exist, or is not hosted here.
  std::shared_ptr<Partition> partition(const TopicPartition& tp) const;
  // Why partition(tp) is null, for the client: no such topic or partition
  // (unknown_topic_or_partition), or, in a cluster, no replica of it here
  // (not_leader, naming the brokers that host it).
  Status why_no_partition(const TopicPartition& tp) const;
  std::optional<Topic> topic(const std::string& name) const;
  // In a cluster: incarnation `topic_id` of topic `name`, if it has partition p.
  Result<Topic> replicated_topic(const std::string& name, int64_t topic_id, int32_t p) const;
  std::vector<Topic> topics() const;

 private:
  TopicManager(storage::Store& store, std::string registry_path, storage::LogConfig defaults,
               int64_t max_message_bytes_limit, ReplicaHost* replica_host);
  // `fresh`: a topic created now, whose partitions can hold no data yet:
  // leftovers of a removal a crash interrupted are deleted first.
  Result<Topic> open_topic(const TopicSpec& spec, bool fresh);
  // Opens partition `p` of `topic` if this broker hosts it (null otherwise).
  Result<std::shared_ptr<Partition>> open_partition(const Topic& topic, int32_t p, bool fresh);
  // Stops serving a partition and removes its log and Raft state.
  Status close_and_remove(Partition& partition, int64_t topic_id);
  // The config `overrides` give `topic`; refuses a `changed` key the broker's limits forbid.
  Result<storage::LogConfig> config_for_change(
      const std::string& topic, const std::map<std::string, std::string>& overrides,
      const std::map<std::string, std::string>& changed) const;
  // Sets partition p's replicas and move (install_image): this broker opens
  // a replica if it is in either and hosts none, and removes its replica if
  // it is in neither (a finished move left it out).
  Status set_placement(const std::string& name, int64_t topic_id, int32_t p,
                       const std::vector<int32_t>& replicas, const std::vector<int32_t>& target,
                       int64_t move_id);
  // Caller holds changes_mutex_, so registry writes happen in change order.
  Status save_registry() const;

  storage::Store& store_;
  const std::string registry_path_;
  const storage::LogConfig defaults_;
  const int64_t max_message_bytes_limit_;
  std::function<void(const std::string&)> removal_listener_;
  std::function<void(const std::string&)> first_use_creator_;  // in a cluster; set before serving
  ReplicaHost* const replica_host_;
  std::mutex changes_mutex_;
  mutable std::mutex mutex_;
  std::map<std::string, Topic> topics_;  // guarded by mutex_
  Offset metadata_applied_{0};           // guarded by mutex_
  std::set<int32_t> decommissioned_;     // guarded by mutex_
};

// Refuses a client's request to `action` ("produce to", "delete", ...) an
// internal topic, with the typed internal_topic error; ok for other topics.
Status refuse_if_internal(const std::string& topic, std::string_view action);

}  // namespace cairn::broker
