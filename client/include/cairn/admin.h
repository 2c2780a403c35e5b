#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cairn/client_options.h"
#include "cairn/status.h"
#include "cairn/strong_int.h"
#include "cairn/topic_partition.h"

namespace cairn {

struct PartitionDescription {
  int32_t partition = 0;
  int32_t leader = -1;
  std::vector<int32_t> replicas;
  Offset log_start_offset;
  Offset high_watermark;
  Offset log_end_offset;
  int64_t size_bytes = 0;
  int32_t segments = 0;
  // The replicas caught up with the leader, as the leader says (each
  // partition's leader is asked); empty while the partition has no leader.
  std::vector<int32_t> caught_up;
  // While the partition moves (decommission_broker, add_broker): the
  // replicas it moves to; empty otherwise.
  std::vector<int32_t> moving_to;
};

struct TopicDescription {
  std::string name;
  std::vector<PartitionDescription> partitions;
  std::map<std::string, std::string> configs;  // every config, with its effective value
  std::set<std::string> overridden;            // those set for this topic; others are the broker's defaults
  bool internal = false;                       // the brokers' own: clients may only read it
  // How often the broker applies retention: records outlive retention.ms or
  // retention.bytes by up to this long.
  int64_t retention_check_interval_ms = 0;
};

// A broker of the cluster as metadata names it, and whether it answered.
struct BrokerDescription {
  int32_t id = 0;
  std::string address;  // host:port
  bool reachable = false;
  // Whether the controller heard from it in the last 5 s; none while no
  // controller answers (or it was elected less than 5 s ago).
  std::optional<bool> live;
  bool decommissioned = false;  // new replicas avoid it
};

struct ClusterDescription {
  std::vector<BrokerDescription> brokers;
  int32_t controller_id = -1;  // -1: none elected (as far as the broker asked knows)
};

// A partition's replicas moving from one set of brokers to another.
struct PartitionMove {
  std::string topic;
  int32_t partition = 0;
  std::vector<int32_t> from;
  std::vector<int32_t> to;
};

// A topic to create.
struct NewTopic {
  std::string name;
  int32_t partitions = 0;          // 0: the broker's --default-partitions
  int32_t replication_factor = 0;  // 0: 3 in a cluster of 3 or more (else all brokers); 1 alone
  std::map<std::string, std::string> configs;
};

// Where to look up an offset.
struct OffsetSpec {
  enum class Kind { earliest, latest, timestamp } kind = Kind::latest;
  int64_t timestamp_ms = 0;

  static OffsetSpec earliest() { return {Kind::earliest, 0}; }
  static OffsetSpec latest() { return {Kind::latest, 0}; }
  static OffsetSpec at_time(int64_t ms) { return {Kind::timestamp, ms}; }
};

struct GroupSummary {
  std::string group;
  std::string state;  // empty, stable or reconciling
  int32_t members = 0;
};

struct GroupMemberDescription {
  std::string member_id;
  int32_t member_epoch = 0;
  std::vector<std::string> topics;
  std::string topic_regex;
  std::vector<TopicPartition> assignment;
};

struct GroupPartitionLag {
  TopicPartition tp;
  std::optional<Offset> committed;
  Offset log_end_offset;  // the high watermark
  int64_t lag = 0;
  std::string owner;  // member id, or empty
};

struct GroupDescription {
  std::string group;
  std::string state;
  int32_t epoch = 0;
  std::string assignor;
  std::vector<GroupMemberDescription> members;
  std::vector<GroupPartitionLag> partitions;
};

// A share group (queue): its members and, per partition, where its
// deliveries stand (docs/queues.md).
struct ShareMemberDescription {
  std::string member_id;
  std::string topic;
  int64_t last_seen_ms = 0;
  int32_t acquired = 0;  // records it holds now
};

struct SharePartitionDescription {
  TopicPartition tp;
  Offset start_offset;    // every record before it is done (accepted or dead-lettered)
  Offset next_offset;     // the first never delivered
  Offset high_watermark;
  int32_t acquired = 0;             // held by members now
  int32_t awaiting_redelivery = 0;  // released, or their lock ended
  int32_t dead_lettering = 0;       // on their way to the dead-letter topic
  int32_t max_delivery_count = 0;   // the most deliveries of one record in flight
  int64_t lag = 0;                  // records not done yet, about
};

struct ShareGroupDescription {
  std::string group;
  std::vector<ShareMemberDescription> members;
  std::vector<SharePartitionDescription> partitions;
  int64_t dead_lettered = 0;  // records moved to dead-letter topics since the broker started
};

// Topics, configs, offsets and consumer groups. Each call is one blocking RPC to a broker,
// bounded by ClientOptions::request_timeout_ms. Thread-safe.
class Admin {
 public:
  static Result<std::unique_ptr<Admin>> connect(ClientOptions options);
  virtual ~Admin() = default;

  // In a cluster any broker takes topic changes (it forwards them to the
  // controller); while a controller is being elected they are retried
  // within the request timeout.
  virtual Status create_topic(const NewTopic& topic) = 0;
  Status create_topic(const std::string& name, int32_t partitions,
                      const std::map<std::string, std::string>& configs = {}) {
    return create_topic(NewTopic{name, partitions, 0, configs});
  }
  virtual Status delete_topic(const std::string& name) = 0;
  // The brokers, each asked directly whether it answers, and the controller.
  virtual Result<ClusterDescription> describe_cluster() = 0;
  // Asks the gRPC health service (grpc.health.v1) of the broker at
  // `address` (host:port) whether it serves: ok when it does, else
  // broker_unavailable saying what it answered or why it did not.
  virtual Status check_health(const std::string& address) = 0;
  // Moves every replica off broker `id`, and keeps new topics off it, while
  // clients keep running: new replicas join each partition's Raft group as
  // learners, become voters once caught up, then the old one leaves. Refused
  // while an earlier move is in progress. Returns the moves started; each
  // partition's `moving_to` (describe_topic) is empty once its move is done.
  virtual Result<std::vector<PartitionMove>> decommission_broker(int32_t id) = 0;
  // Takes broker `id` (back) into the cluster and moves replicas onto it
  // from the brokers holding the most, until it holds its share.
  virtual Result<std::vector<PartitionMove>> add_broker(int32_t id) = 0;
  // Moves every partition still moving back where it came from: the way
  // out of a move that cannot finish (a broker it moves to is gone for
  // good). Returns the moves back (`from` the target given up).
  virtual Result<std::vector<PartitionMove>> cancel_moves() = 0;
  // Every broker hands the leadership of the partitions it leads to their
  // preferred replicas (the first assigned) where those are caught up, as
  // brokers also do on their own a few seconds after one returns. Returns
  // the leadership transfers started.
  virtual Result<int32_t> rebalance_leaders() = 0;
  virtual Result<std::vector<std::string>> list_topics(bool include_internal = false) = 0;
  virtual Result<TopicDescription> describe_topic(const std::string& name) = 0;
  virtual Status alter_topic_configs(const std::string& name,
                                     const std::map<std::string, std::string>& set) = 0;
  // earliest: the log start; latest: the high watermark; timestamp: the
  // first offset at or after it (the high watermark if none).
  virtual Result<Offset> list_offset(const std::string& topic, int32_t partition,
                                     OffsetSpec spec) = 0;

  virtual Result<std::vector<GroupSummary>> list_groups() = 0;
  virtual Result<GroupDescription> describe_group(const std::string& group) = 0;
  // Refused (group_not_empty) while the group has members.
  virtual Status delete_group(const std::string& group) = 0;
  // Sets a group's committed offsets from outside it (resetting, rewinding);
  // refused (group_not_empty) while the group has members.
  virtual Status commit_offsets(const std::string& group,
                                const std::map<TopicPartition, Offset>& offsets) = 0;

  // Share groups (queues).
  virtual Result<std::vector<std::string>> list_share_groups() = 0;
  virtual Result<ShareGroupDescription> describe_share_group(const std::string& group) = 0;
  // Moves a share group's start on `topic` (every partition): refused
  // (group_not_empty) while a member holds records of it.
  virtual Status reset_share_group(const std::string& group, const std::string& topic, OffsetSpec spec) = 0;
  // Forgets a share group (delivery counts, acknowledgements, where it
  // stands): refused (group_not_empty) while it has members.
  virtual Status delete_share_group(const std::string& group) = 0;
};

}  // namespace cairn
