#pragma once

#include <atomic>
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

namespace cairn::client {

struct MembershipOptions {
  std::string group;
  std::vector<std::string> topics;
  std::string topic_regex;
  std::string assignor;
  int32_t session_timeout_ms = 10'000;
};

// A consumer's membership in a group: a background thread heartbeats at the
// interval the coordinator asks for, reporting what the consumer owns and
// receiving its target assignment. The consumer's poll thread reads
// target() and reports what it took with set_owned(). Losing membership
// (session expired, fenced) rejoins at once; the consumer sees its target
// emptied and then refilled. Thread-safe.
class GroupMembership {
 public:
  GroupMembership(Cluster& cluster, MembershipOptions options);
  ~GroupMembership();  // leaves the group

  // The partitions the coordinator lets this member read now.
  std::set<TopicPartition> target() const;
  // What the consumer reads now; sent with the next heartbeat, which this
  // triggers at once when it shrank (a revocation completed).
  void set_owned(std::set<TopicPartition> owned);
  // Commits offsets with the current member id and epoch.
  Status commit(const std::map<TopicPartition, Offset>& offsets);
  // Committed offsets of these partitions (absent: none committed).
  Result<std::map<TopicPartition, Offset>> committed(const std::set<TopicPartition>& partitions);
  std::string member_id() const;
  // Leaves the group now (close()).
  void leave();

 private:
  void run();
  void heartbeat_once();

  Cluster& cluster_;
  const MembershipOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::string member_id_;
  int32_t member_epoch_ = 0;
  int32_t interval_ms_ = 1000;
  std::set<TopicPartition> target_;
  std::set<TopicPartition> owned_;
  bool heartbeat_now_ = true;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace cairn::client
