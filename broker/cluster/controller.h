#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "broker/cluster/controller_voters.h"
#include "broker/partition.h"
#include "broker/replica_host.h"
#include "broker/topic_manager.h"
#include "cairn/v1/admin.pb.h"
#include "cairn/v1/cluster.pb.h"
#include "storage/store.h"

namespace cairn::broker {

// The cluster's metadata on one broker: its replica of the metadata log
// (partition 0 of the internal topic __cluster_metadata, a Raft group of
// the controller voters) and the state machine that applies it.
//
// Every topic change is a ClusterRecord the controller leader (the
// group's leader) appends, after checking it against the state so far.
// Every broker applies the committed records in log order to its
// TopicManager, on the controller's own thread (applying a new topic opens
// and recovers its partitions): all brokers agree on topics, configs and
// assignments, and a broker that was down catches up by replaying. A
// restarted broker replays the whole log (no snapshots yet), so it serves
// no topic until the controller quorum has a leader.
//
// Thread-safe.
class Controller {
 public:
  struct Options {
    int32_t self = 0;
    ControllerVoters voters;
    int32_t default_partitions = 1;
    // How long a change may take in all: catching up, committing, applying here.
    std::chrono::milliseconds change_timeout{15'000};
    // Topics the cluster itself needs (__consumer_offsets): the controller
    // leader creates each that is missing.
    std::vector<v1::TopicSpec> internal_topics;
  };

  static constexpr const char* kMetadataTopic = "__cluster_metadata";

  static Result<std::unique_ptr<Controller>> start(Options options, storage::Store& store,
                                                   ReplicaHost& host, TopicManager& topics);
  ~Controller();  // stop()
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Topic changes, on the controller leader only (not_leader elsewhere,
  // naming the leader: AdminService forwards there). Each returns once the
  // change is committed and applied on this broker, or why not.
  // A replication factor of 0 means min(3, brokers).
  Status create_topic(const v1::TopicSpec& spec);
  Status delete_topic(const std::string& name);
  Status alter_topic(const std::string& name, const std::map<std::string, std::string>& set);

  // The controller leader's broker id, if known here.
  std::optional<int32_t> leader() const;
  const ControllerVoters& voters() const { return options_.voters; }
  // The metadata log's offset up to which this broker applied it.
  Offset applied() const;

  // Stops applying and the metadata replica (shutdown, before the topics close).
  void stop();

 private:
  class Wakeup;

  Controller(Options options, TopicManager& topics);
  Status check_leader() const;
  // Appends `record` and waits until it is applied here.
  using Deadline = std::chrono::steady_clock::time_point;
  Status submit(const v1::ClusterRecord& record, Deadline deadline);
  // Waits until everything committed now is applied here, so that a new
  // leader checks changes against the whole state.
  Status catch_up(Deadline deadline);
  Status wait_applied(Offset offset, Deadline deadline);
  void run();
  // The internal topics' keeper: on the leader, creates those missing.
  void maintain();
  // `offset`: the record's, the id of a topic it creates.
  void apply(Offset offset, const v1::ClusterRecord& record);

  const Options options_;
  TopicManager& topics_;
  std::shared_ptr<Partition> partition_;
  std::shared_ptr<Wakeup> wakeup_;
  std::mutex changes_mutex_;  // one change at a time: check, append, apply

  // wakeup_->mutex guards these; wakeup_->changed signals new commits,
  // applied records and stopping.
  Offset applied_{0};
  bool stopping_ = false;
  std::thread applier_;
  std::thread maintainer_;
};

}  // namespace cairn::broker
