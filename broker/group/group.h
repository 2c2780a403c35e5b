#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "broker/group/assignor.h"
#include "proto/status.h"
#include "proto/topic_partition.h"

namespace cairn::broker {

struct GroupMember {
  std::string id;
  int32_t epoch = 0;                  // bumped each time its assignment changes
  std::set<std::string> topics;       // subscription by name
  std::string topic_regex;            // or by pattern
  std::set<TopicPartition> owned;     // what it last said it reads
  std::set<TopicPartition> assigned;  // what it was last told it may read
  int64_t last_heartbeat_ms = 0;
  int32_t session_timeout_ms = 10'000;
};

struct CommittedOffset {
  int64_t offset = 0;
  std::string metadata;
  int64_t commit_time_ms = 0;
  // When its record was last written to __consumer_offsets (kept in memory,
  // from the record's timestamp): in a cluster the coordinator writes it
  // again before that log's retention could drop it.
  int64_t written_ms = 0;
};

// What a member says in a heartbeat.
struct HeartbeatInput {
  std::string member_id;
  int32_t member_epoch = 0;  // 0 join, -1 leave
  std::set<std::string> topics;
  std::string topic_regex;
  std::set<TopicPartition> owned;
  std::string assignor;
  int32_t session_timeout_ms = 10'000;
};

struct HeartbeatOutput {
  std::string member_id;
  int32_t member_epoch = 0;
  std::set<TopicPartition> assignment;
};

// One consumer group's membership, target assignment and committed offsets.
//
// Reconciliation is incremental: the target assignment comes from the
// assignor, but a member is given a partition only once no other member
// reports owning it. A member losing a partition learns it first (its
// assignment shrinks), commits, and says so in its next heartbeat; only then
// does the new owner get it. Members keeping their partitions are not
// disturbed. Not thread-safe: the coordinator serialises calls.
class Group {
 public:
  // Topic name -> partition count, as the cluster has it now.
  using TopicLookup = std::function<std::map<std::string, int32_t>()>;

  explicit Group(std::string name) : name_(std::move(name)) {}

  Result<HeartbeatOutput> heartbeat(const HeartbeatInput& input, int64_t now_ms,
                                    const TopicLookup& topics);
  // Removes members silent for longer than their session timeout; true if any.
  bool expire_members(int64_t now_ms, const TopicLookup& topics);
  // Checks that a commit comes from a current member, with its current epoch,
  // for partitions it may read now (assigned, or still owned while it hands
  // them over), or from outside an empty group. The coordinator checks and
  // appends under one lock, so no reassignment falls in between.
  Status validate_commit(const std::string& member_id, int32_t member_epoch,
                         const std::vector<TopicPartition>& partitions) const;

  const std::string& name() const { return name_; }
  const std::map<std::string, GroupMember>& members() const { return members_; }
  std::map<TopicPartition, CommittedOffset>& offsets() { return offsets_; }
  const std::map<TopicPartition, CommittedOffset>& offsets() const { return offsets_; }
  int32_t epoch() const { return epoch_; }
  const std::string& assignor() const { return assignor_; }
  // "empty", "reconciling" (someone's assignment differs from the target) or "stable".
  std::string state() const;
  int64_t empty_since_ms() const { return empty_since_ms_; }
  // Topics the members subscribe to, as resolved against the cluster.
  std::set<std::string> subscribed_topics() const;

 private:
  void recompute(const TopicLookup& topics);
  // The subscribed topics and partition counts the members resolve to now.
  std::map<std::string, int32_t> resolve(const std::map<std::string, int32_t>& all) const;
  std::set<TopicPartition> grantable(const GroupMember& member) const;
  std::string new_member_id();

  std::string name_;
  int32_t epoch_ = 0;
  std::string assignor_ = "uniform";
  std::map<std::string, GroupMember> members_;
  Assignment target_;
  std::map<std::string, int32_t> resolved_topics_;  // what the target was computed from
  std::map<TopicPartition, CommittedOffset> offsets_;
  int64_t empty_since_ms_ = 0;
  uint64_t next_member_ = 0;
};

}  // namespace cairn::broker
