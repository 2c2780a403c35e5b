#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "broker/cluster/controller_voters.h"
#include "broker/cluster/replica_assignment.h"
#include "broker/partition.h"
#include "broker/replica_host.h"
#include "broker/topic_manager.h"
#include "cairn/v1/admin.grpc.pb.h"
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
// assignments, and a broker that was down catches up by applying what it
// missed. The TopicManager saves what each change made, with the offset
// applied (its image of the metadata): a restarted broker serves its topics
// at once and resumes applying from there, never replaying a change over
// what replaced it (a deletion over the topic created again).
//
// The image is this broker's snapshot of the metadata: once it holds many
// records, the log keeps only the last few it covers (Options::
// snapshot_records). A broker whose log lacks the records past its image
// (it was down meanwhile, and the leader made it jump to its log start)
// installs a newer image from a peer (GetMetadataImage) and applies on
// from there: Raft's snapshot install, with the image as the snapshot.
//
// Moving replicas (decommission, add a broker) is two records: the move
// starts (brokers in the target start replicas; the partition's leader
// changes its Raft group's members, Replica::set_assignment), and, once
// the partition's leader reports its group is the target, it finishes
// (brokers left out remove their replicas). Every broker's maintainer
// thread reports the moves it leads to their end.
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
    // Snapshots: once this broker's saved image is 2N records past the
    // metadata log's start, the log forgets all but the last N of them.
    int64_t snapshot_records = 10'000;
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
  // A replication factor of 0 means min(3, brokers not decommissioned);
  // a factor above the brokers live now is refused.
  Status create_topic(const v1::TopicSpec& spec);
  Status delete_topic(const std::string& name);
  Status alter_topic(const std::string& name, const std::map<std::string, std::string>& set);

  // Replica moves, on the controller leader only: all or nothing, one
  // operation at a time (refused while any partition still moves). Each
  // returns the moves it started, once they are committed and applied here;
  // they finish in the background (topic describe shows them).
  Result<std::vector<PartitionMovePlan>> decommission(int32_t broker);
  Result<std::vector<PartitionMovePlan>> add_broker(int32_t broker);
  // Every partition still moving moves back to its replicas (a new move,
  // whose target is where the partition came from).
  Result<std::vector<PartitionMovePlan>> cancel_moves();
  // From a moving partition's leader: its Raft group is exactly the target
  // of move `move_id` (ignored if that is not the partition's move now).
  Status finish_move(const std::string& topic, int64_t topic_id, int32_t partition, int64_t move_id);

  // On the controller leader, once it has led a few seconds: the brokers it
  // heard from in the last few seconds (the metadata group's Raft traffic
  // is every broker's heartbeat to the controller). None elsewhere.
  std::optional<std::set<int32_t>> live_brokers() const;
  // The brokers new replicas avoid (decommissioned).
  std::set<int32_t> decommissioned_brokers() const { return topics_.decommissioned_brokers(); }

  // The controller leader's broker id, if known here.
  std::optional<int32_t> leader() const;
  // --auto-create-topics in a cluster: asks for topic `name` with the
  // default partitions and replication. Returns at once; the maintainer
  // creates it on the controller leader, or asks the leader to, and the
  // topic appears in metadata moments later (clients retry meanwhile).
  void create_on_first_use(const std::string& name);
  // The controller leader's Admin service, when another broker leads (and
  // its id): where changes made here are forwarded. Stubs are kept.
  std::optional<std::pair<int32_t, v1::Admin::Stub*>> remote_leader();
  const ControllerVoters& voters() const { return options_.voters; }
  // The metadata log's offset up to which this broker applied it.
  Offset applied() const;
  // This broker's image of the metadata, for a peer behind the log's
  // start; refused while this broker is behind it too, or installing one.
  // The image may hold the change at its offset already (applied, not yet
  // marked): the peer applies it again, as every change is idempotent.
  Result<TopicRegistry> image() const;

  // Stops applying and the metadata replica (shutdown, before the topics close).
  void stop();
  // Shutdown: the metadata replica, to hand its leadership to a caught-up
  // peer before this broker leaves (Replica::hand_off), as partitions do.
  const std::shared_ptr<Replica>& replica() const { return partition_->replica(); }

 private:
  class Wakeup;

  Controller(Options options, TopicManager& topics);
  Status check_leader() const;
  // Appends `record` and waits until it is applied here.
  using Deadline = std::chrono::steady_clock::time_point;
  Status submit(const std::vector<v1::ClusterRecord>& records, Deadline deadline);
  // Checks that a change may start now: this broker leads, with the whole state applied.
  Status begin_change(Deadline deadline);
  // Every replicated topic's partitions, as they are placed now; refuses
  // while any of them moves.
  Result<std::vector<PartitionPlacement>> placement_unless_moving() const;
  // The brokers new replicas may go to: the voters not decommissioned, and
  // live where that is known.
  std::vector<int32_t> active_brokers() const;
  // Refuses a replication factor above the active brokers, naming those
  // missing.
  Status check_factor(int32_t factor, const std::vector<int32_t>& active) const;
  // Refuses a move while this new controller cannot tell live brokers yet.
  Status check_liveness_known() const;
  bool stopping() const;
  Result<std::vector<PartitionMovePlan>> start_moves(std::vector<v1::ClusterRecord> records,
                                                     std::vector<PartitionMovePlan> moves,
                                                     Deadline deadline);
  // The Admin service of voter `broker`; stubs are kept.
  v1::Admin::Stub& stub_for(const PeerBroker& broker);
  // When the metadata log starts past what this broker applied: installs
  // the image of a peer that reaches the log's start; its offset.
  Result<Offset> install_peer_image();
  // Drops the log's records that the image saved up to `saved` covers,
  // keeping the last Options::snapshot_records of them.
  void snapshot_if_due(Offset saved);
  // Reports the moves this broker's replicas lead that reached their target.
  void report_finished_moves();
  // Waits until everything committed now is applied here, so that a new
  // leader checks changes against the whole state.
  Status catch_up(Deadline deadline);
  Status wait_applied(Offset offset, Deadline deadline);
  void run();
  // The internal topics' keeper: on the leader, creates those missing.
  void maintain();
  // Creates (or asks the leader to create) the topics asked for on first use.
  void create_first_use_topics();
  // `offset`: the record's, the id of a topic it creates or a move it starts.
  Status apply(Offset offset, const v1::ClusterRecord& record);

  const Options options_;
  TopicManager& topics_;
  std::shared_ptr<Partition> partition_;
  std::shared_ptr<Wakeup> wakeup_;
  std::mutex changes_mutex_;  // one change at a time: check, append, apply
  std::mutex stubs_mutex_;
  std::map<std::string, std::unique_ptr<v1::Admin::Stub>> stubs_;  // by address; guarded by stubs_mutex_

  // wakeup_->mutex guards these; wakeup_->changed signals new commits,
  // applied records and stopping.
  Offset applied_{0};
  bool installing_ = false;  // a peer's image, now
  std::set<std::string> first_use_;  // topics to create on first use; bounded by kMaxFirstUse
  bool stopping_ = false;
  std::thread applier_;
  std::thread maintainer_;
};

}  // namespace cairn::broker
