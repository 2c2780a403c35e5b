#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "broker/group/group.h"
#include "broker/group/offset_records.h"
#include "broker/topic_manager.h"

namespace cairn::broker {

struct GroupCoordinatorOptions {
  // Partitions of __consumer_offsets; a group's offsets live in
  // murmur2(group) % this. Fixed once the topic exists. Default 8.
  int32_t offsets_partitions = 8;
  // Offsets of a group empty this long expire. Default 7 days.
  int64_t offsets_retention_ms = 7LL * 24 * 3600 * 1000;
  // How often dead members and expired offsets are looked for. Default 250 ms.
  int64_t sweep_interval_ms = 250;
};

// The consumer groups of this broker: membership and assignment (Group),
// and committed offsets stored as records of __consumer_offsets, which are
// replayed on start. A commit is answered once its records are durable.
//
// Thread-safe: one mutex over all groups; callbacks run on the flusher's
// thread (commits) or the io_context (sweeps).
class GroupCoordinator {
 public:
  static constexpr const char* kOffsetsTopic = "__consumer_offsets";

  static Result<std::unique_ptr<GroupCoordinator>> open(TopicManager& topics, asio::io_context& io,
                                                        GroupCoordinatorOptions options);
  ~GroupCoordinator();

  Result<HeartbeatOutput> heartbeat(const std::string& group, const HeartbeatInput& input);
  // Validates, appends and, once durable, applies the offsets; then `done`.
  void commit(const std::string& group, const std::string& member_id, int32_t member_epoch,
              std::vector<std::pair<TopicPartition, CommittedOffset>> offsets,
              std::function<void(Status)> done);
  Result<std::map<TopicPartition, CommittedOffset>> committed(const std::string& group) const;
  // Forgets an empty group and its offsets (tombstones); group_not_empty otherwise.
  void remove(const std::string& group, std::function<void(Status)> done);

  struct Snapshot {
    std::string name;
    std::string state;
    int32_t epoch = 0;
    std::string assignor;
    std::vector<GroupMember> members;
    std::set<std::string> subscribed_topics;
    std::map<TopicPartition, CommittedOffset> offsets;
  };
  std::vector<Snapshot> snapshots() const;
  Result<Snapshot> snapshot(const std::string& group) const;

  void stop();

 private:
  GroupCoordinator(TopicManager& topics, asio::io_context& io, GroupCoordinatorOptions options);
  Status ensure_offsets_topic();
  Status replay();
  void schedule_sweep();
  void sweep();
  std::map<std::string, int32_t> user_topics() const;
  std::shared_ptr<Partition> offsets_partition_for(const std::string& group) const;
  // Appends offset records (tombstones when a value is null) durably.
  void write(const std::string& group, const std::vector<OffsetRecord>& records,
             std::function<void(Status)> done);

  TopicManager& topics_;
  asio::io_context& io_;
  const GroupCoordinatorOptions options_;
  asio::steady_timer sweep_timer_;

  mutable std::mutex mutex_;
  std::map<std::string, Group> groups_;
  bool stopped_ = false;
};

}  // namespace cairn::broker
