#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "broker/coordinated_partitions.h"
#include "broker/partition.h"
#include "broker/share/dead_letter_sink.h"
#include "broker/share/share_partition.h"
#include "broker/share/share_topic_config.h"
#include "broker/topic_manager.h"
#include "cairn/record.h"
#include "proto/group_placement.h"

namespace cairn::broker {

struct ShareCoordinatorOptions {
  SharePartitionLimits limits;
  // Partitions of __share_group_state; a group's state lives in
  // fnv1a(group) % this. Fixed once the topic exists. Default 4.
  int32_t state_partitions = 4;
  // A member silent this long is no longer listed (its records come back
  // when their locks end). Default 45 s.
  int64_t member_timeout_ms = 45'000;
  // How often locks are checked and dead letters moved. Default 100 ms.
  int64_t sweep_interval_ms = 100;
  // The longest a fetch waits for records.
  int32_t max_fetch_wait_ms = 30'000;
  // In a cluster: the controller creates __share_group_state, and this
  // broker coordinates only the share groups whose state partition it leads
  // (not_leader for the others), loading them when it becomes that
  // partition's leader (as after a restart: locks end, deliveries counted)
  // and dropping them when it stops. Records are read from this broker's
  // own replica of each partition (committed records only, leader or not).
  bool replicated = false;
  // In a cluster: __share_group_state's retention.ms as this broker would
  // set it (--offsets-topic-retention-ms, shared with the offsets topic);
  // every share partition's state is written again within a quarter of it,
  // or of the topic's, whichever is less. Default 6 hours.
  int64_t state_topic_retention_ms = 6LL * 3600 * 1000;
};

struct ShareFetchInput {
  std::string group;
  std::string member_id;  // empty: a new member, named by the coordinator
  std::string topic;
  size_t max_records = 500;
  int32_t max_wait_ms = 0;
};

struct AcquiredRecord {
  int32_t partition = 0;
  Record record;
  int32_t delivery_count = 0;
  int64_t lock_until_ms = 0;
};

struct ShareFetchOutput {
  std::string member_id;
  std::vector<AcquiredRecord> records;
};

struct ShareAcknowledgement {
  int32_t partition = 0;
  Offset first;
  Offset last;
  AckType type = AckType::accept;
  std::string reason;
};

struct ShareGroupDescription {
  struct Member {
    std::string id;
    std::string topic;
    int64_t last_seen_ms = 0;
    size_t acquired = 0;
  };
  struct PartitionState {
    TopicPartition tp;
    Offset start;
    Offset next;
    Offset high_watermark;
    size_t acquired = 0;
    size_t awaiting_redelivery = 0;
    size_t dead_lettering = 0;
    int32_t max_delivery_count = 0;
  };
  std::string group;
  std::vector<Member> members;
  std::vector<PartitionState> partitions;
  int64_t dead_lettered = 0;  // since the broker started
};

// Where a share group starts (or is reset to) on a topic.
struct ShareStart {
  enum class Kind { earliest, latest, time } kind = Kind::earliest;
  int64_t timestamp_ms = 0;
};

// The share groups (queues) of this broker: which member holds which
// record, delivery counts, acknowledgements and dead letters
// (docs/queues.md). State changes that matter across a restart (delivery
// counts, acknowledgements, start offsets) are records of the compacted
// topic __share_group_state, replayed on start; a fetch is answered once
// the deliveries it hands out are counted durably, an acknowledgement once
// it is durable. A broker restart ends every lock: records held then are
// delivered again, their delivery counted.
//
// Records out of attempts (max.delivery.attempts: the topic's config, else
// the broker's), or rejected, are copied into the dead-letter topic
// (dead.letter.topic, else <topic>.dlq; created with the source's partition
// count; record to the same partition) through `DeadLetterSink`, with
// headers naming their origin, then archived. The copy is committed before
// the archive is written: a crash in between can copy a record twice, never
// lose it.
//
// In a cluster (options.replicated) a share group's coordinator is the
// leader of its partition of __share_group_state, which is kept by time
// rather than compacted: the coordinator writes every live state again
// before retention could drop its last record, as GroupCoordinator does
// for offsets.
//
// Thread-safe: one mutex over all groups, taken after TopicManager's
// changes_mutex_ and before its lookup mutex, so it never creates or
// removes topics while held. Callbacks run on a flusher thread (those of
// different partitions at once), on the io_context, or on the calling thread.
class ShareCoordinator {
 public:
  static Result<std::unique_ptr<ShareCoordinator>> open(TopicManager& topics, asio::io_context& io,
                                                        ShareCoordinatorOptions options,
                                                        std::unique_ptr<DeadLetterSink> dead_letters);
  ~ShareCoordinator();

  using FetchDone = std::function<void(Result<ShareFetchOutput>)>;
  void fetch(ShareFetchInput input, FetchDone done);
  // One Status per acknowledgement, in order; `done` gets an error for the
  // request as a whole. leave: releases what the member still holds.
  using AcknowledgeDone = std::function<void(Result<std::vector<Status>>)>;
  void acknowledge(const std::string& group, const std::string& member_id, const std::string& topic,
                   std::vector<ShareAcknowledgement> acknowledgements, bool leave, AcknowledgeDone done);
  Result<ShareGroupDescription> describe(const std::string& group);
  std::vector<std::string> groups();
  // Moves the group's start on `topic`; refused while a member holds records of it.
  void reset(const std::string& group, const std::string& topic, ShareStart start,
             std::function<void(Status)> done);
  // Forgets a share group (tombstones for its state), once durable `done`;
  // group_not_empty while it has members (one still fetching would start
  // the group over at the earliest record) or holds records (acquired, or
  // dead letters not yet copied).
  void remove(const std::string& group, std::function<void(Status)> done);
  // Forgets every group's state of a deleted topic (tombstones). Called by
  // TopicManager::remove, holding its changes_mutex_.
  void forget_topic(const std::string& topic);
  const ShareCoordinatorOptions& options() const { return options_; }

  void stop();

 private:
  class PendingFetch;
  struct Member {
    std::string topic;
    int64_t last_seen_ms = 0;  // steady time
  };
  struct ShareGroup {
    std::map<TopicPartition, SharePartition> partitions;
    std::map<std::string, Member> members;
    size_t next_partition = 0;  // where the next fetch starts looking (fairness)
    int64_t dead_lettered = 0;  // since the broker started
    // When each share partition's state was last appended (wall time): in
    // a cluster, what retention would drop first is written again.
    std::map<TopicPartition, int64_t> written_ms;
  };
  struct Appended {
    std::shared_ptr<Partition> partition;  // of __share_group_state
    storage::AppendResult result;
  };
  // What a fetch did under the mutex: records to hand out once the state
  // that counts their delivery is durable.
  struct Acquisition {
    ShareFetchOutput output;
    std::optional<Appended> appended;
  };

  ShareCoordinator(TopicManager& topics, asio::io_context& io, ShareCoordinatorOptions options,
                   std::unique_ptr<DeadLetterSink> dead_letters);
  // The broker's limits, with the topic's max.delivery.attempts if set.
  SharePartitionLimits limits_for(const Topic& topic) const;
  // The topic's dead.letter.topic, else <topic>.dlq.
  std::string dead_letter_topic_of(const Topic& topic) const;
  Status replay();
  Status replay_partition_locked(const Partition& partition, size_t* applied);
  // In a cluster (mutex_ held): ok if this broker coordinates `group`,
  // (re)loading its state partition's groups for the current term.
  Status coordinate_locked(const std::string& group);
  Status coordinate_partition_locked(int32_t number);
  // In a cluster: appends again each state older than a quarter of
  // __share_group_state's retention.
  void refresh_states_locked(int64_t now_ms);
  Result<Acquisition> acquire_locked(ShareFetchInput& input, ShareTime now);
  // The group's share partition of `tp`, started per the group's default
  // (earliest) when new.
  SharePartition& share_partition_locked(ShareGroup& group, const TopicPartition& tp, const Partition& partition);
  // Records at `offsets` (ascending); those no longer in the log are forgotten.
  Result<std::vector<Record>> read_redeliveries(const Partition& partition, SharePartition& share,
                                                const std::vector<Offset>& offsets);
  // Appends the current state of these share partitions of `group`.
  Result<Appended> persist_locked(const std::string& group, const std::set<TopicPartition>& changed);
  void answer(Result<Acquisition> acquisition, const FetchDone& done);
  void park(ShareFetchInput input, FetchDone done);
  void retry(const std::shared_ptr<PendingFetch>& pending);
  void expire(const std::shared_ptr<PendingFetch>& pending);
  void wake_waiting_locked();
  void schedule_sweep();
  void sweep();
  // Copies what is waiting to be dead-lettered into the dead-letter topics,
  // then archives it. Runs on the sweep; never holding mutex_ while it
  // creates a topic.
  void move_dead_letters();

  TopicManager& topics_;
  asio::io_context& io_;
  const ShareCoordinatorOptions options_;
  const std::unique_ptr<DeadLetterSink> dead_letters_;
  asio::steady_timer sweep_timer_;

  mutable std::mutex mutex_;
  std::map<std::string, ShareGroup> groups_;
  std::vector<std::shared_ptr<PendingFetch>> waiting_;
  // Dead letters being copied now (not picked up again meanwhile).
  std::set<std::tuple<std::string, TopicPartition, Offset>> dead_lettering_;
  // In a cluster: the state partitions whose groups are loaded, with the
  // term they were loaded in.
  CoordinatedPartitions coordinated_{kShareStateTopic, "share groups"};
  bool stopped_ = false;
};

}  // namespace cairn::broker
