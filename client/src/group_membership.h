#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cluster.h"
#include "proto/status.h"
#include "proto/strong_int.h"
#include "proto/topic_partition.h"
#include "reachability.h"

namespace cairn::client {

struct MembershipOptions {
  std::string group;
  std::vector<std::string> topics;
  std::string topic_regex;
  std::string assignor;
  int32_t session_timeout_ms = 10'000;
};

// What the coordinator lets a member read, and the incarnation of the
// membership it was granted to.
struct Assignment {
  uint64_t incarnation = 0;
  std::set<TopicPartition> partitions;
};

// A consumer's membership in a group: a background thread heartbeats at the
// interval the coordinator asks for, reporting what the consumer owns and
// receiving its target assignment. The consumer's poll thread reads
// target() and reports what it took with set_owned(). Thread-safe.
//
// Losing the membership — the coordinator fenced it (unknown member, stale
// epoch), or no heartbeat was accepted for a session timeout, after which
// the coordinator has expired it or is about to — starts a new incarnation:
// the target and what the member claims to own are emptied, and it rejoins
// at once. What the consumer held under an older incarnation may be another
// member's by now: set_owned() and commit() for it are refused, so the
// consumer must drop those partitions and their positions.
class GroupMembership {
 public:
  using Clock = std::chrono::steady_clock;

  // `cluster` and `reachability` must outlive it; heartbeats report to the latter.
  GroupMembership(Cluster& cluster, Reachability& reachability, MembershipOptions options);
  ~GroupMembership();  // leaves the group

  // The partitions the coordinator lets this member read now. Declares the
  // membership lost first if the session lapsed (see the class comment).
  Assignment target();
  // What the consumer reads now, under `incarnation`; sent with the next
  // heartbeat, which this triggers at once when it shrank (a revocation
  // completed). Ignored for an older incarnation.
  void set_owned(std::set<TopicPartition> owned, uint64_t incarnation);
  // Commits offsets with the current member id and epoch, by `not_after`;
  // stale_member_epoch if they were read under an older incarnation.
  Status commit(const std::map<TopicPartition, Offset>& offsets, uint64_t incarnation,
                Clock::time_point not_after = Clock::time_point::max());
  // Committed offsets of these partitions (absent: none committed).
  Result<std::map<TopicPartition, Offset>> committed(const std::set<TopicPartition>& partitions);
  std::string member_id() const;
  // Leaves the group now (close()), telling the coordinator by `not_after`.
  void leave(Clock::time_point not_after = Clock::time_point::max());

 private:
  void run();
  void heartbeat_once();
  // Declares the membership lost if no heartbeat was accepted for a session.
  void expire_if_lapsed_locked(Clock::time_point now);
  void lose_membership_locked();

  Cluster& cluster_;
  Reachability& reachability_;
  const MembershipOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::string member_id_;
  int32_t member_epoch_ = 0;
  int32_t interval_ms_ = 1000;
  int failed_heartbeats_ = 0;  // in a row: paces the retries
  uint64_t incarnation_ = 0;  // memberships lost so far
  // When the last heartbeat the coordinator accepted was sent: the
  // coordinator heard from this member no earlier.
  Clock::time_point accepted_heartbeat_sent_;
  std::set<TopicPartition> target_;
  std::set<TopicPartition> owned_;
  bool heartbeat_now_ = true;
  bool stopping_ = false;
  grpc::ClientContext* heartbeat_in_flight_ = nullptr;  // set while a heartbeat waits for its answer
  std::thread thread_;
};

}  // namespace cairn::client
