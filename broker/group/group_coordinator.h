#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "broker/coordinated_partitions.h"
#include "broker/group/group.h"
#include "broker/group/offset_records.h"
#include "broker/topic_manager.h"
#include "storage/clock.h"
#include "proto/group_placement.h"

namespace cairn::broker {

struct GroupCoordinatorOptions {
  // Partitions of __consumer_offsets; a group's offsets live in
  // fnv1a(group) % this. Fixed once the topic exists. Default 8.
  int32_t offsets_partitions = 8;
  // Offsets of a group empty this long expire. Default 7 days.
  int64_t offsets_retention_ms = 7LL * 24 * 3600 * 1000;
  // In a cluster: __consumer_offsets' retention.ms as this broker would set
  // it (--offsets-topic-retention-ms); live offsets are rewritten within a
  // quarter of it, or of the topic's, whichever is less. Default 6 hours.
  int64_t offsets_topic_retention_ms = 6LL * 3600 * 1000;
  // How often dead members and expired offsets are looked for. Default 250 ms.
  int64_t sweep_interval_ms = 250;
  // Wall time, for what leaves the broker or meets retention (commit
  // timestamps, rewriting offsets before retention). Membership (session
  // timeouts, how long a group is empty) runs on the steady clock: a wall
  // clock that jumps neither expires live members nor keeps dead ones.
  const storage::Clock* clock = &storage::Clock::system();
  // In a cluster: the controller creates __consumer_offsets, and this
  // broker coordinates only the groups whose offsets partition it leads
  // (refusing the others with not_leader), loading them from that
  // partition when it becomes its leader and dropping them when it stops.
  bool replicated = false;
};

// The consumer groups of this broker: membership and assignment (Group),
// and committed offsets stored as records of __consumer_offsets, which are
// replayed on start. A commit is answered once its records are durable.
//
// In a cluster __consumer_offsets is not compacted (replicated topics
// cannot be yet) but kept by time (--offsets-topic-retention-ms): the
// coordinator rewrites every live offset well before retention would drop
// its last record, so the log holds each one, and a new coordinator
// replays at most one retention's worth of commits.
//
// Invariants: records are appended to __consumer_offsets only under mutex_,
// so the log holds the in-memory changes in the order they were made; every
// offset of a deleted topic, applied or still awaiting its sync, is followed
// in the log by a tombstone, so neither a restart nor a recreated topic of
// the same name brings it back.
//
// Thread-safe: one mutex over all groups, taken after TopicManager's
// changes_mutex_ and before its lookup mutex (the order is written down in
// topic_manager.h). Callbacks run on a flusher thread (commits: those of
// different offsets partitions at once), on the thread deleting a topic, or
// on the io_context (sweeps).
class GroupCoordinator {
 public:
  static constexpr const char* kOffsetsTopic = cairn::kOffsetsTopic;

  static Result<std::unique_ptr<GroupCoordinator>> open(TopicManager& topics, asio::io_context& io,
                                                        GroupCoordinatorOptions options);
  ~GroupCoordinator();

  Result<HeartbeatOutput> heartbeat(const std::string& group, const HeartbeatInput& input);
  // Validates, appends and, once durable, applies the offsets; then `done`.
  void commit(const std::string& group, const std::string& member_id, int32_t member_epoch,
              std::vector<std::pair<TopicPartition, CommittedOffset>> offsets,
              std::function<void(Status)> done);
  Result<std::map<TopicPartition, CommittedOffset>> committed(const std::string& group);
  // Forgets an empty group and its offsets (tombstones); group_not_empty otherwise.
  void remove(const std::string& group, std::function<void(Status)> done);
  // Forgets every group's offsets of a deleted topic (tombstones). Called by
  // TopicManager::remove, holding its changes_mutex_.
  void forget_topic(const std::string& topic);

  struct Snapshot {
    std::string name;
    std::string state;
    int32_t epoch = 0;
    std::string assignor;
    std::vector<GroupMember> members;
    std::set<std::string> subscribed_topics;
    std::map<TopicPartition, CommittedOffset> offsets;
  };
  std::vector<Snapshot> snapshots();
  Result<Snapshot> snapshot(const std::string& group);

  void stop();

 private:
  GroupCoordinator(TopicManager& topics, asio::io_context& io, GroupCoordinatorOptions options);
  Status replay();
  // In a cluster (mutex_ held): ok if this broker coordinates `group`,
  // (re)loading its offsets partition's groups for the current term.
  Status coordinate_locked(const std::string& group);
  Status coordinate_partition_locked(int32_t partition);
  Status replay_partition_locked(const Partition& partition, size_t* applied);
  void schedule_sweep();
  void sweep();
  std::map<std::string, int32_t> user_topics() const;
  std::shared_ptr<Partition> offsets_partition_for(const std::string& group) const;
  // What tells a partition's topic from another of the same name (deleted
  // and created again): its id in a cluster, the partition object on a
  // broker alone (held, so that its address is never another's). {-1, null}
  // when the topic does not exist.
  using Incarnation = std::pair<int64_t, std::shared_ptr<Partition>>;
  Incarnation incarnation_of(const TopicPartition& tp) const;
  // Offsets of topics that no longer exist (deleted while the broker was
  // down or before their tombstones were durable) are forgotten at start.
  void forget_missing_topics();
  struct Appended {
    std::shared_ptr<Partition> partition;  // of __consumer_offsets
    storage::AppendResult result;          // committed: Partition::when_committed
  };
  // Appends offset records (tombstones when a value is null) of one group.
  Result<Appended> append_locked(const std::string& group, const std::vector<OffsetRecord>& records);
  // Forgets an empty group, appending tombstones for its offsets (nullopt: it had none).
  Result<std::optional<Appended>> forget_group(const std::string& group);
  // Checks a commit and returns its records; `targets` gets the partitions
  // committed to, in order.
  Result<std::vector<OffsetRecord>> commit_records_locked(
      const std::string& group, const std::string& member_id, int32_t member_epoch,
      const std::vector<std::pair<TopicPartition, CommittedOffset>>& offsets,
      std::vector<Incarnation>& targets);
  // Once a commit's records are durable (or failed): applies its offsets.
  // In a cluster, `term` is the term its offsets partition was loaded in
  // when it was appended: applied only if still loaded in that term.
  void apply_commit(const std::string& group, const std::vector<OffsetRecord>& records,
                    const std::vector<Incarnation>& targets, bool durable,
                    std::optional<Term> term);
  // In a cluster: appends again each loaded offset whose record is older
  // than a quarter of __consumer_offsets' retention.ms, so that retention
  // (which bounds what a new coordinator replays) never drops a live one.
  // One of a topic this broker does not know is left to age out: the topic
  // may be deleted, or only not applied here yet.
  void refresh_offsets_locked(int64_t now);

  TopicManager& topics_;
  asio::io_context& io_;
  const GroupCoordinatorOptions options_;
  asio::steady_timer sweep_timer_;

  mutable std::mutex mutex_;
  std::map<std::string, Group> groups_;
  // Commits appended but not yet durable, so a topic deleted meanwhile gets
  // tombstones for them too. Bounded by the commits in flight.
  std::multiset<std::pair<std::string, TopicPartition>> pending_commits_;
  // In a cluster: the offsets partitions whose groups are loaded, with the
  // term they were loaded in.
  CoordinatedPartitions coordinated_{kOffsetsTopic, "consumer groups"};
  bool stopped_ = false;
};

}  // namespace cairn::broker
