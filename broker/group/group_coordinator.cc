#include "broker/group/group_coordinator.h"

#include <chrono>

#include <spdlog/spdlog.h>

#include "proto/byte_io.h"
#include "proto/record_batch.h"

namespace cairn::broker {

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Spreads groups over the offsets partitions. The mapping is fixed: a
// group's offsets must always be found where they were written.
uint32_t fnv1a(std::string_view s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) h = (h ^ c) * 16777619u;
  return h;
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
  CAIRN_RETURN_IF_ERROR(coordinator->ensure_offsets_topic());
  CAIRN_RETURN_IF_ERROR(coordinator->replay());
  coordinator->schedule_sweep();
  return coordinator;
}

Status GroupCoordinator::ensure_offsets_topic() {
  if (topics_.topic(kOffsetsTopic)) return {};
  // Compacted: the newest commit per group and partition is all that matters.
  Status created = topics_.create(kOffsetsTopic, options_.offsets_partitions,
                                  {{"cleanup.policy", "compact"}, {"segment.bytes", "104857600"}});
  return created.code() == ErrorCode::topic_already_exists ? Status() : created;
}

Status GroupCoordinator::replay() {
  auto topic = topics_.topic(kOffsetsTopic);
  if (!topic) return error(ErrorCode::unknown, "{} vanished", kOffsetsTopic);
  size_t applied = 0;
  for (const auto& partition : topic->partitions) {
    const auto& log = *partition->log;
    Offset next = log.log_start();
    while (next < log.log_end()) {
      auto read = log.read(next, 1 << 20, log.log_end());
      if (!read.ok()) return read.status();
      auto data = as_bytes(read->bytes);
      while (!data.empty()) {
        auto header = parse_batch_header(data, data.size());
        if (!header.ok()) return header.status();
        auto records = decode_batch(data.subspan(0, header->size_bytes()));
        if (!records.ok()) return records.status();
        for (const auto& record : *records) {
          auto parsed = parse_offset_record(record);
          if (!parsed) continue;
          auto& offsets = groups_.try_emplace(parsed->group, parsed->group).first->second.offsets();
          if (parsed->value) {
            offsets[parsed->tp] = *parsed->value;
          } else {
            offsets.erase(parsed->tp);
          }
          ++applied;
        }
        data = data.subspan(header->size_bytes());
      }
      next = read->next_offset;
    }
  }
  std::erase_if(groups_, [](const auto& entry) { return entry.second.offsets().empty(); });
  spdlog::info("group coordinator: {} group(s) with committed offsets ({} record(s) replayed)",
               groups_.size(), applied);
  return {};
}

std::map<std::string, int32_t> GroupCoordinator::user_topics() const {
  std::map<std::string, int32_t> out;
  for (const auto& topic : topics_.topics()) {
    if (!topic.name.starts_with("__")) out[topic.name] = static_cast<int32_t>(topic.partitions.size());
  }
  return out;
}

std::shared_ptr<Partition> GroupCoordinator::offsets_partition_for(const std::string& group) const {
  auto partition = static_cast<int32_t>(fnv1a(group) % static_cast<uint32_t>(options_.offsets_partitions));
  return topics_.partition({kOffsetsTopic, partition});
}

Result<HeartbeatOutput> GroupCoordinator::heartbeat(const std::string& group,
                                                    const HeartbeatInput& input) {
  if (group.empty()) return error(ErrorCode::invalid_request, "a group name is required");
  std::lock_guard lock(mutex_);
  auto& g = groups_.try_emplace(group, group).first->second;
  return g.heartbeat(input, now_ms(), [this] { return user_topics(); });
}

void GroupCoordinator::commit(const std::string& group, const std::string& member_id,
                              int32_t member_epoch,
                              std::vector<std::pair<TopicPartition, CommittedOffset>> offsets,
                              std::function<void(Status)> done) {
  if (offsets.empty()) {
    done(error(ErrorCode::invalid_request, "nothing to commit"));
    return;
  }
  {
    std::lock_guard lock(mutex_);
    auto& g = groups_.try_emplace(group, group).first->second;
    Status allowed = g.validate_commit(member_id, member_epoch);
    if (!allowed.ok()) {
      done(allowed);
      return;
    }
  }
  std::vector<OffsetRecord> records;
  int64_t now = now_ms();
  for (auto& [tp, offset] : offsets) {
    if (offset.offset < 0) {
      done(error(ErrorCode::invalid_request, "offset {} for {} is negative", offset.offset, tp));
      return;
    }
    offset.commit_time_ms = now;
    records.push_back({group, tp, offset});
  }
  write(group, records, [this, group, records, done = std::move(done)](Status s) {
    if (s.ok()) {
      std::lock_guard lock(mutex_);
      auto& g = groups_.try_emplace(group, group).first->second;
      for (const auto& r : records) g.offsets()[r.tp] = *r.value;
    }
    done(s);
  });
}

void GroupCoordinator::write(const std::string& group, const std::vector<OffsetRecord>& records,
                             std::function<void(Status)> done) {
  auto partition = offsets_partition_for(group);
  if (!partition) {
    done(error(ErrorCode::unknown, "{} is missing", kOffsetsTopic));
    return;
  }
  RecordBatchBuilder builder;
  int64_t now = now_ms();
  for (const auto& r : records) {
    std::string key = offset_record_key(r.group, r.tp);
    std::optional<std::string> value;
    if (r.value) value = offset_record_value(*r.value);
    builder.add(key, value ? std::optional<std::string_view>(*value) : std::nullopt, {}, now);
  }
  auto batch = builder.build();
  if (!batch.ok()) {
    done(batch.status());
    return;
  }
  auto appended = partition->log->append(as_bytes(*batch), Term(0));
  if (!appended.ok()) {
    done(appended.status());
    return;
  }
  partition->log->when_flushed(appended->last_offset + 1, std::move(done));
}

Result<std::map<TopicPartition, CommittedOffset>> GroupCoordinator::committed(
    const std::string& group) const {
  std::lock_guard lock(mutex_);
  auto it = groups_.find(group);
  if (it == groups_.end()) return std::map<TopicPartition, CommittedOffset>{};
  return it->second.offsets();
}

void GroupCoordinator::remove(const std::string& group, std::function<void(Status)> done) {
  std::vector<OffsetRecord> tombstones;
  {
    std::lock_guard lock(mutex_);
    auto it = groups_.find(group);
    if (it == groups_.end()) {
      done(error(ErrorCode::group_not_found, "group '{}' does not exist", group));
      return;
    }
    if (!it->second.members().empty()) {
      done(error(ErrorCode::group_not_empty,
                 "group '{}' has {} active member(s); stop its consumers first", group,
                 it->second.members().size()));
      return;
    }
    for (const auto& [tp, offset] : it->second.offsets()) tombstones.push_back({group, tp, std::nullopt});
    groups_.erase(it);
  }
  if (tombstones.empty()) {
    done({});
    return;
  }
  write(group, tombstones, std::move(done));
}

GroupCoordinator::Snapshot snapshot_of(const Group& g) {
  GroupCoordinator::Snapshot s{g.name(), g.state(), g.epoch(), g.assignor(), {}, g.subscribed_topics(), g.offsets()};
  for (const auto& [id, member] : g.members()) s.members.push_back(member);
  return s;
}

std::vector<GroupCoordinator::Snapshot> GroupCoordinator::snapshots() const {
  std::lock_guard lock(mutex_);
  std::vector<Snapshot> out;
  for (const auto& [name, g] : groups_) out.push_back(snapshot_of(g));
  return out;
}

Result<GroupCoordinator::Snapshot> GroupCoordinator::snapshot(const std::string& group) const {
  std::lock_guard lock(mutex_);
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
  int64_t now = now_ms();
  std::vector<std::string> expired_groups;
  {
    std::lock_guard lock(mutex_);
    for (auto& [name, g] : groups_) {
      if (g.expire_members(now, [this] { return user_topics(); })) {
        spdlog::info("group {}: members expired; reassigning", name);
      }
      if (g.members().empty() && !g.offsets().empty() &&
          now - g.empty_since_ms() > options_.offsets_retention_ms) {
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

void GroupCoordinator::stop() {
  std::lock_guard lock(mutex_);
  stopped_ = true;
  sweep_timer_.cancel();
}

}  // namespace cairn::broker
