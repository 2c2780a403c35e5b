#include "broker/group/group_coordinator.h"

#include <algorithm>
#include <chrono>

#include <spdlog/spdlog.h>

#include "broker/partition_records.h"
#include "proto/byte_io.h"
#include "proto/record_batch.h"
#include "storage/clock.h"

namespace cairn::broker {

namespace {

// Membership time: never jumps with the wall clock.
int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

GroupCoordinator::GroupCoordinator(TopicManager& topics, asio::io_context& io,
                                   GroupCoordinatorOptions options)
    : topics_(topics), io_(io), options_(options), sweep_timer_(io) {}

GroupCoordinator::~GroupCoordinator() { stop(); }

Result<std::unique_ptr<GroupCoordinator>> GroupCoordinator::open(TopicManager& topics,
                                                                 asio::io_context& io,
                                                                 GroupCoordinatorOptions options) {
  std::unique_ptr<GroupCoordinator> coordinator(new GroupCoordinator(topics, io, options));
  if (options.replicated) {
    coordinator->schedule_sweep();
    return coordinator;
  }
  CAIRN_RETURN_IF_ERROR(topics.ensure_state_topic(kOffsetsTopic, options.offsets_partitions));
  CAIRN_RETURN_IF_ERROR(coordinator->replay());
  coordinator->forget_missing_topics();
  coordinator->schedule_sweep();
  return coordinator;
}

Status GroupCoordinator::replay() {
  auto topic = topics_.topic(kOffsetsTopic);
  if (!topic) return error(ErrorCode::unknown, "{} vanished", kOffsetsTopic);
  size_t applied = 0;
  std::lock_guard lock(mutex_);
  for (const auto& partition : topic->partitions) {
    CAIRN_RETURN_IF_ERROR(replay_partition_locked(*partition, &applied));
  }
  std::erase_if(groups_, [](const auto& entry) { return entry.second.offsets().empty(); });
  spdlog::info("group coordinator: {} group(s) with committed offsets ({} record(s) replayed)",
               groups_.size(), applied);
  return {};
}

Status GroupCoordinator::replay_partition_locked(const Partition& partition, size_t* applied) {
  return read_records(partition, partition.log_start(), [&](const Record& record) {
           auto parsed = parse_offset_record(record);
           if (!parsed) return;
           auto& offsets = groups_.try_emplace(parsed->group, parsed->group).first->second.offsets();
           if (parsed->value) {
             offsets[parsed->tp] = *parsed->value;
           } else {
             offsets.erase(parsed->tp);
           }
           ++*applied;
         }).status();
}

Status GroupCoordinator::coordinate_locked(const std::string& group) {
  if (!options_.replicated) return {};
  return coordinate_partition_locked(offsets_partition_of(group, options_.offsets_partitions));
}

Status GroupCoordinator::coordinate_partition_locked(int32_t number) {
  auto groups_of_partition = [this, number](const auto& entry) {
    return offsets_partition_of(entry.first, options_.offsets_partitions) == number;
  };
  return coordinated_.coordinate(
      topics_, number, [&] { std::erase_if(groups_, groups_of_partition); },
      [&](const Partition& partition) -> Result<size_t> {
        size_t applied = 0;
        CAIRN_RETURN_IF_ERROR(replay_partition_locked(partition, &applied));
        std::erase_if(groups_, [&](const auto& entry) {
          return groups_of_partition(entry) && entry.second.offsets().empty() && entry.second.members().empty();
        });
        return applied;
      });
}

std::map<std::string, int32_t> GroupCoordinator::user_topics() const {
  std::map<std::string, int32_t> out;
  for (const auto& topic : topics_.topics()) {
    if (!is_internal_topic(topic.name)) out[topic.name] = static_cast<int32_t>(topic.partitions.size());
  }
  return out;
}

GroupCoordinator::Incarnation GroupCoordinator::incarnation_of(const TopicPartition& tp) const {
  auto topic = topics_.topic(tp.topic);
  if (!topic) return {-1, nullptr};
  // Ids are all 0 on a broker alone, where every partition is hosted.
  if (options_.replicated) return {topic->topic_id, nullptr};
  return {0, topics_.partition(tp)};
}

std::shared_ptr<Partition> GroupCoordinator::offsets_partition_for(const std::string& group) const {
  return topics_.partition({kOffsetsTopic, offsets_partition_of(group, options_.offsets_partitions)});
}

Result<HeartbeatOutput> GroupCoordinator::heartbeat(const std::string& group,
                                                    const HeartbeatInput& input) {
  if (group.empty()) return error(ErrorCode::invalid_request, "a group name is required");
  std::lock_guard lock(mutex_);
  CAIRN_RETURN_IF_ERROR(coordinate_locked(group));
  auto& g = groups_.try_emplace(group, group).first->second;
  return g.heartbeat(input, steady_ms(), [this] { return user_topics(); });
}

void GroupCoordinator::commit(const std::string& group, const std::string& member_id,
                              int32_t member_epoch,
                              std::vector<std::pair<TopicPartition, CommittedOffset>> offsets,
                              std::function<void(Status)> done) {
  if (offsets.empty()) {
    done(error(ErrorCode::invalid_request, "nothing to commit"));
    return;
  }
  // The partitions committed to: if one is deleted (or deleted and recreated)
  // before the commit is durable, its offset is not applied.
  std::vector<Incarnation> targets;
  Result<std::vector<OffsetRecord>> records = std::vector<OffsetRecord>{};
  Result<Appended> appended = error(ErrorCode::unknown, "not appended");
  std::optional<Term> term;
  {
    std::lock_guard lock(mutex_);
    Status coordinated = coordinate_locked(group);
    records = coordinated.ok() ? commit_records_locked(group, member_id, member_epoch, offsets, targets)
                               : Result<std::vector<OffsetRecord>>(coordinated);
    appended = records.ok() ? append_locked(group, *records) : Result<Appended>(records.status());
    if (appended.ok()) {
      for (const auto& r : *records) pending_commits_.insert({group, r.tp});
      if (options_.replicated) term = coordinated_.term(offsets_partition_of(group, options_.offsets_partitions));
    }
  }
  if (!appended.ok()) {
    done(appended.status());
    return;
  }
  appended->partition->when_committed(
      appended->result, [this, group, records = *records, targets, term, done = std::move(done)](Status s) {
        apply_commit(group, records, targets, s.ok(), term);
        done(s);
      });
}

Result<std::vector<OffsetRecord>> GroupCoordinator::commit_records_locked(
    const std::string& group, const std::string& member_id, int32_t member_epoch,
    const std::vector<std::pair<TopicPartition, CommittedOffset>>& offsets,
    std::vector<Incarnation>& targets) {
  auto& g = groups_.try_emplace(group, group).first->second;
  std::vector<TopicPartition> partitions;
  for (const auto& [tp, unused] : offsets) partitions.push_back(tp);
  CAIRN_RETURN_IF_ERROR(g.validate_commit(member_id, member_epoch, partitions));
  std::vector<OffsetRecord> records;
  int64_t now = options_.clock->now_ms();
  for (const auto& [tp, offset] : offsets) {
    if (offset.offset < 0) {
      return error(ErrorCode::invalid_request, "offset {} for {} is negative", offset.offset, tp);
    }
    targets.push_back(incarnation_of(tp));
    if (!topics_.partition(tp)) {
      // Hosted by other brokers (not_leader) is fine: it exists.
      Status why = topics_.why_no_partition(tp);
      if (why.code() != ErrorCode::not_leader) return why;
    }
    records.push_back({group, tp, CommittedOffset{offset.offset, offset.metadata, now, now}});
  }
  return records;
}

void GroupCoordinator::apply_commit(const std::string& group, const std::vector<OffsetRecord>& records,
                                    const std::vector<Incarnation>& targets,
                                    bool durable, std::optional<Term> term) {
  std::lock_guard lock(mutex_);
  for (const auto& r : records) pending_commits_.erase(pending_commits_.find({group, r.tp}));
  if (!durable) return;
  if (term) {
    // Reloaded (or dropped) since it was appended: the replay of a later
    // term holds the commit if it survived, and a later commit may follow
    // it there; this broker may not even coordinate the group any more.
    if (coordinated_.term(offsets_partition_of(group, options_.offsets_partitions)) != *term) return;
  }
  auto& g = groups_.try_emplace(group, group).first->second;
  for (size_t i = 0; i < records.size(); ++i) {
    if (incarnation_of(records[i].tp) == targets[i]) g.offsets()[records[i].tp] = *records[i].value;
  }
}

Result<GroupCoordinator::Appended> GroupCoordinator::append_locked(
    const std::string& group, const std::vector<OffsetRecord>& records) {
  auto partition = offsets_partition_for(group);
  if (!partition) return error(ErrorCode::unknown, "{} is missing", kOffsetsTopic);
  RecordBatchBuilder builder;
  int64_t now = options_.clock->now_ms();
  for (const auto& r : records) {
    std::string key = offset_record_key(r.group, r.tp);
    std::optional<std::string> value;
    if (r.value) value = offset_record_value(*r.value);
    builder.add(key, value ? std::optional<std::string_view>(*value) : std::nullopt, {}, now);
  }
  auto batch = builder.build();
  if (!batch.ok()) return batch.status();
  std::optional<Term> term;
  if (options_.replicated) {
    term = coordinated_.term(offsets_partition_of(group, options_.offsets_partitions));
    if (!term) return error(ErrorCode::not_leader, "group {}: its offsets partition is not loaded here", group);
  }
  auto appended = partition->append_in_term(as_bytes(*batch), term);
  if (!appended.ok()) return appended.status();
  return Appended{std::move(partition), *appended};
}

Result<std::map<TopicPartition, CommittedOffset>> GroupCoordinator::committed(
    const std::string& group) {
  std::lock_guard lock(mutex_);
  CAIRN_RETURN_IF_ERROR(coordinate_locked(group));
  auto it = groups_.find(group);
  if (it == groups_.end()) return std::map<TopicPartition, CommittedOffset>{};
  return it->second.offsets();
}

void GroupCoordinator::remove(const std::string& group, std::function<void(Status)> done) {
  auto appended = forget_group(group);
  if (!appended.ok()) {
    done(appended.status());
  } else if (!*appended) {
    done({});  // nothing was committed: nothing to write
  } else {
    (*appended)->partition->when_committed((*appended)->result, std::move(done));
  }
}

Result<std::optional<GroupCoordinator::Appended>> GroupCoordinator::forget_group(
    const std::string& group) {
  std::lock_guard lock(mutex_);
  CAIRN_RETURN_IF_ERROR(coordinate_locked(group));
  auto it = groups_.find(group);
  if (it == groups_.end()) return error(ErrorCode::group_not_found, "group '{}' does not exist", group);
  if (!it->second.members().empty()) {
    return error(ErrorCode::group_not_empty,
                 "group '{}' has {} active member(s); stop its consumers first", group,
                 it->second.members().size());
  }
  std::vector<OffsetRecord> tombstones;
  for (const auto& [tp, offset] : it->second.offsets()) tombstones.push_back({group, tp, std::nullopt});
  groups_.erase(it);
  if (tombstones.empty()) return std::optional<Appended>();
  auto appended = append_locked(group, tombstones);
  if (!appended.ok()) return appended.status();
  return std::optional<Appended>(std::move(*appended));
}

void GroupCoordinator::forget_topic(const std::string& topic) {
  std::map<std::string, std::set<TopicPartition>> forgotten;  // group -> partitions
  std::lock_guard lock(mutex_);
  if (options_.replicated) {
    // Current for this term: tombstones are written only in the term loaded.
    for (int32_t p = 0; p < options_.offsets_partitions; ++p) (void)coordinate_partition_locked(p);
  }
  for (auto& [name, g] : groups_) {
    for (auto it = g.offsets().begin(); it != g.offsets().end();) {
      if (it->first.topic != topic) {
        ++it;
        continue;
      }
      forgotten[name].insert(it->first);
      it = g.offsets().erase(it);
    }
  }
  for (const auto& [group, tp] : pending_commits_) {
    if (tp.topic == topic) forgotten[group].insert(tp);
  }
  for (const auto& [group, partitions] : forgotten) {
    std::vector<OffsetRecord> tombstones;
    for (const auto& tp : partitions) tombstones.push_back({group, tp, std::nullopt});
    // Not waited for: a tombstone lost to a crash is written again at start
    // (forget_missing_topics).
    Status written = append_locked(group, tombstones).status();
    if (!written.ok()) {
      spdlog::warn("group {}: forgetting offsets of deleted topic {}: {}", group, topic,
                   written.to_string());
    }
  }
  if (!forgotten.empty()) {
    spdlog::info("topic {} deleted: offsets of {} group(s) forgotten", topic, forgotten.size());
  }
}

void GroupCoordinator::forget_missing_topics() {
  std::set<std::string> missing;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [name, g] : groups_) {
      for (const auto& [tp, offset] : g.offsets()) {
        if (!topics_.topic(tp.topic)) missing.insert(tp.topic);
      }
    }
  }
  for (const auto& topic : missing) forget_topic(topic);
}

GroupCoordinator::Snapshot snapshot_of(const Group& g) {
  GroupCoordinator::Snapshot s{g.name(), g.state(), g.epoch(), g.assignor(), {}, g.subscribed_topics(), g.offsets()};
  for (const auto& [id, member] : g.members()) s.members.push_back(member);
  return s;
}

std::vector<GroupCoordinator::Snapshot> GroupCoordinator::snapshots() {
  std::lock_guard lock(mutex_);
  if (options_.replicated) {
    // The groups of every offsets partition this broker leads, and no other.
    for (int32_t p = 0; p < options_.offsets_partitions; ++p) (void)coordinate_partition_locked(p);
  }
  std::vector<Snapshot> out;
  for (const auto& [name, g] : groups_) out.push_back(snapshot_of(g));
  return out;
}

Result<GroupCoordinator::Snapshot> GroupCoordinator::snapshot(const std::string& group) {
  std::lock_guard lock(mutex_);
  CAIRN_RETURN_IF_ERROR(coordinate_locked(group));
  auto it = groups_.find(group);
  if (it == groups_.end()) return error(ErrorCode::group_not_found, "group '{}' does not exist", group);
  return snapshot_of(it->second);
}

void GroupCoordinator::schedule_sweep() {
  sweep_timer_.expires_after(std::chrono::milliseconds(options_.sweep_interval_ms));
  sweep_timer_.async_wait([this](const std::error_code& ec) {
    if (ec) return;
    sweep();
    std::lock_guard lock(mutex_);
    if (!stopped_) schedule_sweep();
  });
}

void GroupCoordinator::sweep() {
  int64_t now = options_.clock->now_ms();
  int64_t steady_now = steady_ms();
  std::vector<std::string> expired_groups;
  {
    std::lock_guard lock(mutex_);
    if (options_.replicated) {
      // Loads the groups of the partitions this broker leads (each must be
      // refreshed, used or not), and drops those of partitions it no longer leads.
      for (int32_t p = 0; p < options_.offsets_partitions; ++p) (void)coordinate_partition_locked(p);
      refresh_offsets_locked(now);
    }
    for (auto& [name, g] : groups_) {
      if (g.expire_members(steady_now, [this] { return user_topics(); })) {
        spdlog::info("group {}: members expired; reassigning", name);
      }
      if (g.members().empty() && !g.offsets().empty() &&
          steady_now - g.empty_since_ms() > options_.offsets_retention_ms) {
        expired_groups.push_back(name);
      }
    }
  }
  for (const auto& name : expired_groups) {
    spdlog::info("group {}: empty for offsets.retention.ms; its offsets expire", name);
    remove(name, [name](Status s) {
      if (!s.ok()) spdlog::warn("expiring offsets of group {}: {}", name, s.to_string());
    });
  }
}

void GroupCoordinator::refresh_offsets_locked(int64_t now) {
  auto offsets_topic = topics_.topic(kOffsetsTopic);
  if (!offsets_topic) return;
  // The broker's own setting too: a topic whose retention another broker
  // lowered before this one applied the change is refreshed in time.
  int64_t retention = options_.offsets_topic_retention_ms;
  if (offsets_topic->config.retention_ms > 0) retention = std::min(retention, offsets_topic->config.retention_ms);
  // Written again once a quarter of the retention passed: retention drops
  // no live offset unless its partition has no leader for the rest of it.
  int64_t due = now - retention / 4;
  size_t refreshed = 0;
  for (auto& [name, g] : groups_) {
    std::vector<OffsetRecord> records;
    for (const auto& [tp, offset] : g.offsets()) {
      // A commit in flight comes after in the log: a refresh must not follow it there.
      if (offset.written_ms > due || pending_commits_.count({name, tp})) continue;
      // Unknown here: deleted (its tombstone lost with a leader change), or
      // created but not applied here yet. Neither kept nor erased: it ages out.
      if (!topics_.topic(tp.topic)) continue;
      records.push_back({name, tp, offset});
    }
    // Batches well under max.message.bytes, however many partitions.
    constexpr size_t kMaxRecordsPerBatch = 1'000;
    for (size_t from = 0; from < records.size(); from += kMaxRecordsPerBatch) {
      std::vector<OffsetRecord> chunk(records.begin() + static_cast<std::ptrdiff_t>(from),
                                      records.begin() + static_cast<std::ptrdiff_t>(
                                                            std::min(records.size(), from + kMaxRecordsPerBatch)));
      auto appended = append_locked(name, chunk);
      if (!appended.ok()) {
        // Leadership moved: the next sweep drops the group here.
        if (appended.status().code() != ErrorCode::not_leader) {
          spdlog::warn("group {}: rewriting its offsets before {}'s retention drops them: {}", name,
                       kOffsetsTopic, appended.status().to_string());
        }
        break;
      }
      for (const auto& r : chunk) g.offsets()[r.tp].written_ms = now;
      refreshed += chunk.size();
    }
  }
  if (refreshed > 0) {
    spdlog::debug("group coordinator: rewrote {} committed offset(s) before {}'s retention drops them",
                  refreshed, kOffsetsTopic);
  }
}

void GroupCoordinator::stop() {
  std::lock_guard lock(mutex_);
  stopped_ = true;
  sweep_timer_.cancel();
}

}  // namespace cairn::broker
