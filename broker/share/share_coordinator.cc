#include "broker/share/share_coordinator.h"

#include <asio/post.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <random>

#include "broker/partition_records.h"
#include "broker/read_waiters.h"
#include "broker/share/share_state_records.h"
#include "cairn/dead_letter.h"
#include "proto/assert.h"
#include "proto/byte_io.h"
#include "proto/group_placement.h"
#include "proto/record_batch.h"
#include "storage/clock.h"

namespace cairn::broker {

namespace {

int64_t wall_ms() { return storage::Clock::system().now_ms(); }

ShareTime share_now() {
  return {wall_ms(), std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now().time_since_epoch())
                         .count()};
}

// A steady time as the wall clock tells it now, for clients and operators.
int64_t as_wall_ms(int64_t steady_ms, ShareTime now) { return now.wall_ms + (steady_ms - now.steady_ms); }

std::string new_member_id() {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  return fmt::format("share-{:016x}", random());
}

}  // namespace

// A fetch waiting for records: retried when a partition of its topic gets
// new records or a record comes back to the queue, answered empty at its
// deadline. `finished` (under the coordinator's mutex) makes it answer once.
class ShareCoordinator::PendingFetch final : public ReadWaiter,
                                             public std::enable_shared_from_this<PendingFetch> {
 public:
  PendingFetch(ShareCoordinator& owner, ShareFetchInput input, FetchDone done)
      : owner(owner), input(std::move(input)), done(std::move(done)), timer(owner.io_) {}
  void wake() override {
    asio::post(owner.io_, [self = shared_from_this()] { self->owner.retry(self); });
  }

  ShareCoordinator& owner;
  ShareFetchInput input;
  FetchDone done;
  asio::steady_timer timer;
  bool finished = false;
};

ShareCoordinator::ShareCoordinator(TopicManager& topics, asio::io_context& io, ShareCoordinatorOptions options,
                                   std::unique_ptr<DeadLetterSink> dead_letters)
    : topics_(topics), io_(io), options_(options), dead_letters_(std::move(dead_letters)), sweep_timer_(io) {
  CAIRN_ASSERT(dead_letters_);
}

ShareCoordinator::~ShareCoordinator() { stop(); }

SharePartitionLimits ShareCoordinator::limits_for(const Topic& topic) const {
  SharePartitionLimits limits = options_.limits;
  auto config = share_topic_config(topic.name, topic.config_overrides);  // checked when set
  if (config.ok() && config->max_delivery_attempts) limits.max_delivery_attempts = *config->max_delivery_attempts;
  return limits;
}

std::string ShareCoordinator::dead_letter_topic_of(const Topic& topic) const {
  auto config = share_topic_config(topic.name, topic.config_overrides);
  if (config.ok() && config->dead_letter_topic) return *config->dead_letter_topic;
  return dead_letter::topic_for(topic.name);
}

Result<std::unique_ptr<ShareCoordinator>> ShareCoordinator::open(TopicManager& topics, asio::io_context& io,
                                                                 ShareCoordinatorOptions options,
                                                                 std::unique_ptr<DeadLetterSink> dead_letters) {
  std::unique_ptr<ShareCoordinator> coordinator(new ShareCoordinator(topics, io, options, std::move(dead_letters)));
  if (options.replicated) {
    // Groups load as this broker comes to lead their state partitions.
    coordinator->schedule_sweep();
    return coordinator;
  }
  CAIRN_RETURN_IF_ERROR(topics.ensure_state_topic(kShareStateTopic, options.state_partitions));
  CAIRN_RETURN_IF_ERROR(coordinator->replay());
  coordinator->schedule_sweep();
  return coordinator;
}

Status ShareCoordinator::replay() {
  auto topic = topics_.topic(kShareStateTopic);
  if (!topic) return error(ErrorCode::unknown, "{} vanished", kShareStateTopic);
  size_t applied = 0;
  std::lock_guard lock(mutex_);
  for (const auto& partition : topic->partitions) {
    CAIRN_RETURN_IF_ERROR(replay_partition_locked(*partition, &applied));
  }
  // State of topics deleted while the broker was down is forgotten.
  for (auto& [name, group] : groups_) {
    std::erase_if(group.partitions, [&](const auto& entry) { return !topics_.partition(entry.first); });
  }
  std::erase_if(groups_, [](const auto& entry) { return entry.second.partitions.empty(); });
  spdlog::info("share coordinator: {} share group(s) ({} state record(s) replayed)", groups_.size(), applied);
  return {};
}

Status ShareCoordinator::replay_partition_locked(const Partition& partition, size_t* applied) {
  return read_records(partition, partition.log_start(), [&](const Record& record) {
           auto parsed = parse_share_state_record(record);
           if (!parsed) return;
           ShareGroup& group = groups_[parsed->group];
           group.partitions.erase(parsed->tp);
           group.written_ms[parsed->tp] = record.timestamp_ms;
           ++*applied;
           if (!parsed->state) return;
           auto state = SharePartition::decode(*parsed->state);
           if (!state.ok()) {
             // One bad record must not stop the broker: that share
             // partition starts over at the earliest offset.
             spdlog::error("share group {} on {}: {}; its deliveries start over", parsed->group, parsed->tp,
                           state.status().to_string());
             return;
           }
           group.partitions.emplace(parsed->tp, std::move(*state));
         }).status();
}

Status ShareCoordinator::coordinate_locked(const std::string& group) {
  if (!options_.replicated) return {};
  return coordinate_partition_locked(offsets_partition_of(group, options_.state_partitions));
}

Status ShareCoordinator::coordinate_partition_locked(int32_t number) {
  auto groups_of_partition = [this, number](const auto& entry) {
    return offsets_partition_of(entry.first, options_.state_partitions) == number;
  };
  return coordinated_.coordinate(
      topics_, number, [&] { std::erase_if(groups_, groups_of_partition); },
      [&](const Partition& partition) -> Result<size_t> {
        size_t applied = 0;
        CAIRN_RETURN_IF_ERROR(replay_partition_locked(partition, &applied));
        std::erase_if(groups_, [&](const auto& entry) {
          return groups_of_partition(entry) && entry.second.partitions.empty();
        });
        return applied;
      });
}

void ShareCoordinator::fetch(ShareFetchInput input, FetchDone done) {
  if (input.group.empty()) {
    done(error(ErrorCode::invalid_request, "a share fetch needs a group name"));
    return;
  }
  if (input.member_id.empty()) input.member_id = new_member_id();
  input.max_records = std::clamp<size_t>(input.max_records, 1, static_cast<size_t>(options_.limits.max_record_locks));
  input.max_wait_ms = std::clamp(input.max_wait_ms, 0, options_.max_fetch_wait_ms);
  Result<Acquisition> acquired = error(ErrorCode::unknown, "not run");
  {
    std::lock_guard lock(mutex_);
    if (stopped_) {
      done(error(ErrorCode::shutting_down, "the broker is shutting down; retry on another"));
      return;
    }
    acquired = acquire_locked(input, share_now());
  }
  if (acquired.ok() && acquired->output.records.empty() && input.max_wait_ms > 0) {
    park(std::move(input), std::move(done));
    return;
  }
  answer(std::move(acquired), done);
}

void ShareCoordinator::answer(Result<Acquisition> acquisition, const FetchDone& done) {
  if (!acquisition.ok()) {
    done(acquisition.status());
    return;
  }
  if (!acquisition->appended) {
    done(std::move(acquisition->output));
    return;
  }
  // Handed out only once their delivery is counted durably: a broker crash
  // can then never deliver a record more often than max_delivery_attempts.
  Appended appended = *acquisition->appended;
  auto output = std::make_shared<ShareFetchOutput>(std::move(acquisition->output));
  appended.partition->when_committed(appended.result, [output, done](Status s) {
    if (!s.ok()) {
      done(s);
    } else {
      done(std::move(*output));
    }
  });
}

void ShareCoordinator::park(ShareFetchInput input, FetchDone done) {
  auto pending = std::make_shared<PendingFetch>(*this, std::move(input), std::move(done));
  auto topic = topics_.topic(pending->input.topic);
  {
    std::lock_guard lock(mutex_);
    waiting_.push_back(pending);
  }
  if (topic) {
    for (const auto& partition : topic->partitions) {
      if (partition) partition->waiters().add(pending);
    }
  }
  pending->timer.expires_after(std::chrono::milliseconds(pending->input.max_wait_ms));
  pending->timer.async_wait([this, pending](const std::error_code&) { expire(pending); });
  // Records that came between the first try and the registration.
  retry(pending);
}

void ShareCoordinator::retry(const std::shared_ptr<PendingFetch>& pending) {
  Result<Acquisition> acquired = error(ErrorCode::unknown, "not run");
  {
    std::lock_guard lock(mutex_);
    if (pending->finished) return;
    acquired = acquire_locked(pending->input, share_now());
    if (acquired.ok() && acquired->output.records.empty()) {
      auto topic = topics_.topic(pending->input.topic);
      if (topic) {
        for (const auto& partition : topic->partitions) {
          if (partition) partition->waiters().add(pending);
        }
      }
      return;
    }
    pending->finished = true;
    std::erase(waiting_, pending);
  }
  pending->timer.cancel();
  answer(std::move(acquired), pending->done);
}

void ShareCoordinator::expire(const std::shared_ptr<PendingFetch>& pending) {
  bool stopping = false;
  {
    std::lock_guard lock(mutex_);
    if (pending->finished) return;
    pending->finished = true;
    std::erase(waiting_, pending);
    stopping = stopped_;
  }
  if (stopping) {
    pending->done(error(ErrorCode::shutting_down, "the broker is shutting down; retry on another"));
  } else {
    pending->done(ShareFetchOutput{pending->input.member_id, {}});
  }
}

void ShareCoordinator::wake_waiting_locked() {
  for (const auto& pending : waiting_) pending->wake();
}

Result<ShareCoordinator::Acquisition> ShareCoordinator::acquire_locked(ShareFetchInput& input, ShareTime now) {
  if (is_internal_topic(input.topic)) {
    return error(ErrorCode::internal_topic, "{} is internal: share groups read only user topics", input.topic);
  }
  auto topic = topics_.topic(input.topic);
  if (!topic) return error(ErrorCode::unknown_topic_or_partition, "topic {} does not exist", input.topic);
  CAIRN_RETURN_IF_ERROR(coordinate_locked(input.group));
  ShareGroup& group = groups_[input.group];
  group.members[input.member_id] = Member{input.topic, now.steady_ms};
  size_t count = topic->partitions.size();
  for (size_t p = 0; p < count; ++p) {
    // Checked before anything is acquired: a fetch that fails must not
    // have counted deliveries it never made.
    if (!topic->partitions[p]) {
      return error(ErrorCode::unsupported,
                   "share group {}: its coordinator reads {}/{} from its own replica, and this broker has none; "
                   "give topic {} a replica on every broker (replication factor = broker count) to share it",
                   input.group, input.topic, p, input.topic);
    }
  }
  Acquisition out;
  out.output.member_id = input.member_id;
  std::set<TopicPartition> changed;
  const SharePartitionLimits limits = limits_for(*topic);
  size_t first = group.next_partition++ % count;
  for (size_t i = 0; i < count && out.output.records.size() < input.max_records; ++i) {
    auto p = static_cast<int32_t>((first + i) % count);
    const auto& partition = topic->partitions[static_cast<size_t>(p)];
    TopicPartition tp{input.topic, p};
    SharePartition& share = share_partition_locked(group, tp, *partition);
    Offset before_start = share.start(), before_end = share.end();
    share.drop_below(partition->log_start());
    if (share.release_expired(now.steady_ms, limits)) changed.insert(tp);
    if (share.end() > partition->high_watermark()) {
      // This replica's copy is behind what the group tracked (a new
      // coordinator whose copy lags the old one's): what it tracked is
      // handed out once this copy has it, never forgotten as missing.
      if (share.start() != before_start) changed.insert(tp);
      continue;
    }
    size_t want = input.max_records - out.output.records.size();
    auto redeliver = share.acquire_available(input.member_id, want, now, limits);
    if (!redeliver.empty()) {
      auto records = read_redeliveries(*partition, share, redeliver);
      if (!records.ok()) {
        // What this fetch took from other partitions is handed out, not
        // left to count as a failed delivery; this one is tried next time.
        if (!out.output.records.empty()) continue;
        return records.status();
      }
      for (auto& record : *records) {
        const InFlightRecord& state = share.records().at(record.offset);
        out.output.records.push_back(
            {p, std::move(record), state.delivery_count, as_wall_ms(state.lock_until_ms, now)});
      }
      changed.insert(tp);
    }
    // Then records never delivered, while the window has room.
    if (out.output.records.size() >= input.max_records || share.room(limits) == 0 ||
        share.end() >= partition->high_watermark()) {
      if (share.start() != before_start || share.end() != before_end) changed.insert(tp);
      continue;
    }
    auto scanned = scan_records(*partition, share.end(), [&](const Record& record) {
      if (out.output.records.size() >= input.max_records || share.room(limits) == 0) return false;
      share.acquire_new(record.offset, input.member_id, now, limits);
      const InFlightRecord& state = share.records().at(record.offset);
      out.output.records.push_back({p, record, state.delivery_count, as_wall_ms(state.lock_until_ms, now)});
      return true;
    });
    if (!scanned.ok() && out.output.records.empty()) return scanned.status();
    if (scanned.ok()) share.skip_to(*scanned);  // else as above: what it took so far is handed out
    if (share.start() != before_start || share.end() != before_end) changed.insert(tp);
  }
  if (!changed.empty()) {
    auto appended = persist_locked(input.group, changed);
    if (!appended.ok()) return appended.status();
    out.appended = *appended;
  }
  return out;
}

SharePartition& ShareCoordinator::share_partition_locked(ShareGroup& group, const TopicPartition& tp,
                                                         const Partition& partition) {
  auto it = group.partitions.find(tp);
  if (it != group.partitions.end()) return it->second;
  // A new share group starts at the earliest record: a queue's jobs sent
  // before its first worker came are jobs too (Kafka's default is latest;
  // reset moves it).
  return group.partitions.emplace(tp, SharePartition(partition.log_start())).first->second;
}

Result<std::vector<Record>> ShareCoordinator::read_redeliveries(const Partition& partition, SharePartition& share,
                                                                const std::vector<Offset>& offsets) {
  std::vector<Record> out;
  auto wanted = offsets.begin();
  auto scanned = scan_records(partition, offsets.front(), [&](const Record& record) {
    while (wanted != offsets.end() && *wanted < record.offset) share.forget(*wanted++);
    if (wanted == offsets.end()) return false;
    if (*wanted == record.offset) {
      out.push_back(record);
      ++wanted;
    }
    return wanted != offsets.end();
  });
  if (!scanned.ok()) return scanned.status();
  // Compacted away, or below a log start that moved meanwhile.
  while (wanted != offsets.end()) share.forget(*wanted++);
  return out;
}

Result<ShareCoordinator::Appended> ShareCoordinator::persist_locked(const std::string& group,
                                                                    const std::set<TopicPartition>& changed) {
  auto partition = topics_.partition({kShareStateTopic, offsets_partition_of(group, options_.state_partitions)});
  if (!partition) return error(ErrorCode::unknown, "{} is missing", kShareStateTopic);
  RecordBatchBuilder builder;
  int64_t now = wall_ms();
  auto found = groups_.find(group);
  for (const auto& tp : changed) {
    std::string key = share_state_key(group, tp);
    std::optional<std::string> value;
    if (found != groups_.end()) {
      auto share = found->second.partitions.find(tp);
      if (share != found->second.partitions.end()) value = share->second.encode();
    }
    builder.add(key, value ? std::optional<std::string_view>(*value) : std::nullopt, {}, now);
  }
  auto batch = builder.build();
  if (!batch.ok()) return batch.status();
  std::optional<Term> term;
  if (options_.replicated) {
    term = coordinated_.term(offsets_partition_of(group, options_.state_partitions));
    if (!term) return error(ErrorCode::not_leader, "share group {}: its state partition is not loaded here", group);
  }
  auto appended = partition->append_in_term(as_bytes(*batch), term);
  if (!appended.ok()) return appended.status();
  if (found != groups_.end()) {
    for (const auto& tp : changed) found->second.written_ms[tp] = now;
  }
  return Appended{std::move(partition), *appended};
}

void ShareCoordinator::acknowledge(const std::string& group, const std::string& member_id, const std::string& topic,
                                   std::vector<ShareAcknowledgement> acknowledgements, bool leave,
                                   AcknowledgeDone done) {
  std::vector<Status> outcomes;
  Result<Appended> appended = error(ErrorCode::unknown, "not run");
  {
    std::lock_guard lock(mutex_);
    if (stopped_) {
      done(error(ErrorCode::shutting_down, "the broker is shutting down; retry on another"));
      return;
    }
    Status coordinated = coordinate_locked(group);
    if (!coordinated.ok()) {
      done(coordinated);
      return;
    }
    auto found = groups_.find(group);
    if (found == groups_.end()) {
      done(error(ErrorCode::group_not_found, "share group {} has no state here (never fetched from)", group));
      return;
    }
    ShareGroup& g = found->second;
    ShareTime now = share_now();
    auto source = topics_.topic(topic);
    const SharePartitionLimits limits = source ? limits_for(*source) : options_.limits;
    std::set<TopicPartition> changed;
    bool returned = false;  // records back in the queue: waiting fetches may take them
    for (const auto& ack : acknowledgements) {
      TopicPartition tp{topic, ack.partition};
      auto share = g.partitions.find(tp);
      if (share == g.partitions.end()) {
        outcomes.push_back(error(ErrorCode::record_not_acquired, "nothing of {} was delivered to group {}", tp, group));
        continue;
      }
      Status s = share->second.acknowledge(member_id, ack.first, ack.last, ack.type, ack.reason, now.steady_ms, limits);
      outcomes.push_back(s);
      if (!s.ok()) continue;
      if (ack.type != AckType::renew) changed.insert(tp);
      returned = returned || ack.type == AckType::release || ack.type == AckType::give_back;
    }
    if (leave) {
      for (auto& [tp, share] : g.partitions) {
        if (tp.topic == topic && share.release_member(member_id, limits)) {
          changed.insert(tp);
          returned = true;
        }
      }
      g.members.erase(member_id);
    } else if (!member_id.empty()) {
      g.members[member_id] = Member{topic, now.steady_ms};
    }
    if (returned) wake_waiting_locked();
    if (changed.empty()) {
      done(std::move(outcomes));
      return;
    }
    appended = persist_locked(group, changed);
  }
  if (!appended.ok()) {
    done(appended.status());
    return;
  }
  auto result = std::make_shared<std::vector<Status>>(std::move(outcomes));
  appended->partition->when_committed(appended->result, [result, done](Status s) {
    if (!s.ok()) {
      done(s);
    } else {
      done(std::move(*result));
    }
  });
}

Result<ShareGroupDescription> ShareCoordinator::describe(const std::string& group) {
  std::lock_guard lock(mutex_);
  CAIRN_RETURN_IF_ERROR(coordinate_locked(group));
  auto found = groups_.find(group);
  if (found == groups_.end()) return error(ErrorCode::group_not_found, "share group {} does not exist", group);
  const ShareGroup& g = found->second;
  ShareGroupDescription out;
  out.group = group;
  out.dead_lettered = g.dead_lettered;
  ShareTime now = share_now();
  for (const auto& [id, member] : g.members) {
    size_t acquired = 0;
    for (const auto& [tp, share] : g.partitions) acquired += share.acquired_by(id);
    out.members.push_back({id, member.topic, as_wall_ms(member.last_seen_ms, now), acquired});
  }
  for (const auto& [tp, share] : g.partitions) {
    ShareGroupDescription::PartitionState state{tp, share.start(), share.end(), share.end()};
    if (auto partition = topics_.partition(tp)) state.high_watermark = partition->high_watermark();
    for (const auto& [offset, record] : share.records()) {
      state.acquired += record.state == DeliveryState::acquired;
      state.awaiting_redelivery += record.state == DeliveryState::available;
      state.dead_lettering += record.state == DeliveryState::dead_lettering;
      state.max_delivery_count = std::max(state.max_delivery_count, record.delivery_count);
    }
    out.partitions.push_back(state);
  }
  return out;
}

std::vector<std::string> ShareCoordinator::groups() {
  std::lock_guard lock(mutex_);
  if (options_.replicated) {
    // The groups of every state partition this broker leads, and no other.
    for (int32_t p = 0; p < options_.state_partitions; ++p) (void)coordinate_partition_locked(p);
  }
  std::vector<std::string> out;
  for (const auto& [name, group] : groups_) out.push_back(name);
  return out;
}

void ShareCoordinator::reset(const std::string& group, const std::string& topic_name, ShareStart start,
                             std::function<void(Status)> done) {
  auto topic = topics_.topic(topic_name);
  if (!topic || is_internal_topic(topic_name)) {
    done(error(ErrorCode::unknown_topic_or_partition, "topic {} does not exist", topic_name));
    return;
  }
  Result<Appended> appended = error(ErrorCode::unknown, "not run");
  {
    std::lock_guard lock(mutex_);
    Status coordinated = coordinate_locked(group);
    if (!coordinated.ok()) {
      done(coordinated);
      return;
    }
    ShareGroup& g = groups_[group];
    for (const auto& [tp, share] : g.partitions) {
      if (tp.topic == topic_name && share.any_acquired()) {
        done(error(ErrorCode::group_not_empty,
                   "share group {} has members holding records of {}: stop its workers (or wait for their "
                   "locks to end) before resetting it",
                   group, topic_name));
        return;
      }
    }
    std::set<TopicPartition> changed;
    for (size_t p = 0; p < topic->partitions.size(); ++p) {
      const auto& partition = topic->partitions[p];
      if (!partition) continue;
      Offset offset = partition->log_start();
      if (start.kind == ShareStart::Kind::latest) offset = partition->high_watermark();
      if (start.kind == ShareStart::Kind::time) {
        auto found = partition->offset_for_time(start.timestamp_ms);
        if (!found.ok()) {
          done(found.status());
          return;
        }
        offset = found->value_or(partition->high_watermark());
      }
      TopicPartition tp{topic_name, static_cast<int32_t>(p)};
      share_partition_locked(g, tp, *partition).reset(offset);
      changed.insert(tp);
    }
    appended = persist_locked(group, changed);
  }
  if (!appended.ok()) {
    done(appended.status());
    return;
  }
  appended->partition->when_committed(appended->result, std::move(done));
}

void ShareCoordinator::remove(const std::string& group, std::function<void(Status)> done) {
  Result<Appended> appended = error(ErrorCode::unknown, "not run");
  {
    std::lock_guard lock(mutex_);
    if (stopped_) {
      done(error(ErrorCode::shutting_down, "the broker is shutting down; retry on another"));
      return;
    }
    Status coordinated = coordinate_locked(group);
    if (!coordinated.ok()) {
      done(coordinated);
      return;
    }
    auto found = groups_.find(group);
    if (found == groups_.end()) {
      done(error(ErrorCode::group_not_found, "share group {} does not exist", group));
      return;
    }
    const ShareGroup& g = found->second;
    bool fetching = std::any_of(waiting_.begin(), waiting_.end(),
                                [&](const auto& pending) { return pending->input.group == group; });
    if (!g.members.empty() || fetching) {
      done(error(ErrorCode::group_not_empty,
                 "share group {} has {} member(s): stop its workers first (a worker that closes leaves at once; one "
                 "that died is forgotten {} s after its last request)",
                 group, g.members.size(), options_.member_timeout_ms / 1000));
      return;
    }
    std::set<TopicPartition> forgotten;
    for (const auto& [tp, share] : g.partitions) {
      // Held by a worker gone silent, or not yet copied to the dead-letter
      // topic: deleting now would lose a dead letter.
      if (share.any_acquired() || !share.dead_lettering().empty()) {
        done(error(ErrorCode::group_not_empty,
                   "share group {} still holds records of {} (locks not yet ended, or dead letters being moved): "
                   "try again after the record lock duration",
                   group, tp));
        return;
      }
      forgotten.insert(tp);
    }
    ShareGroup removed = std::move(found->second);
    groups_.erase(found);
    if (forgotten.empty()) {
      done({});
      return;
    }
    appended = persist_locked(group, forgotten);  // tombstones: the group is gone
    if (!appended.ok()) groups_.emplace(group, std::move(removed));  // as it was
  }
  if (!appended.ok()) {
    done(appended.status());
    return;
  }
  appended->partition->when_committed(appended->result, std::move(done));
}

void ShareCoordinator::forget_topic(const std::string& topic) {
  std::lock_guard lock(mutex_);
  if (options_.replicated) {
    // Current for this term: tombstones are written only in the term loaded.
    for (int32_t p = 0; p < options_.state_partitions; ++p) (void)coordinate_partition_locked(p);
  }
  for (auto& [name, group] : groups_) {
    std::set<TopicPartition> forgotten;
    for (auto it = group.partitions.begin(); it != group.partitions.end();) {
      if (it->first.topic != topic) {
        ++it;
        continue;
      }
      forgotten.insert(it->first);
      it = group.partitions.erase(it);
    }
    if (forgotten.empty()) continue;
    // Not waited for: state of a missing topic is dropped at start anyway.
    Status written = persist_locked(name, forgotten).status();
    if (!written.ok()) {
      spdlog::warn("share group {}: forgetting deleted topic {}: {}", name, topic, written.to_string());
    }
  }
}

void ShareCoordinator::schedule_sweep() {
  sweep_timer_.expires_after(std::chrono::milliseconds(options_.sweep_interval_ms));
  sweep_timer_.async_wait([this](const std::error_code& ec) {
    if (ec) return;
    sweep();
    move_dead_letters();
    std::lock_guard lock(mutex_);
    if (!stopped_) schedule_sweep();
  });
}

void ShareCoordinator::sweep() {
  int64_t now = share_now().steady_ms;
  std::lock_guard lock(mutex_);
  if (options_.replicated) {
    // Loads the groups of the state partitions this broker leads (each must
    // be refreshed, used or not), and drops those of partitions it no longer leads.
    for (int32_t p = 0; p < options_.state_partitions; ++p) (void)coordinate_partition_locked(p);
    refresh_states_locked(wall_ms());
  }
  bool returned = false;
  std::map<std::string, SharePartitionLimits> limits;  // by topic
  auto limits_of = [&](const std::string& name) -> const SharePartitionLimits& {
    auto it = limits.find(name);
    if (it != limits.end()) return it->second;
    auto topic = topics_.topic(name);
    return limits.emplace(name, topic ? limits_for(*topic) : options_.limits).first->second;
  };
  for (auto& [name, group] : groups_) {
    std::set<TopicPartition> changed;
    for (auto& [tp, share] : group.partitions) {
      if (share.release_expired(now, limits_of(tp.topic))) changed.insert(tp);
    }
    std::erase_if(group.members, [&](const auto& entry) {
      return now - entry.second.last_seen_ms > options_.member_timeout_ms;
    });
    if (changed.empty()) continue;
    returned = true;
    Status written = persist_locked(name, changed).status();
    if (!written.ok()) spdlog::warn("share group {}: saving ended locks: {}", name, written.to_string());
  }
  if (returned) wake_waiting_locked();
}

void ShareCoordinator::refresh_states_locked(int64_t now_ms) {
  auto state_topic = topics_.topic(kShareStateTopic);
  if (!state_topic) return;
  // The broker's own setting too: a topic whose retention another broker
  // lowered before this one applied the change is refreshed in time.
  int64_t retention = options_.state_topic_retention_ms;
  if (state_topic->config.retention_ms > 0) retention = std::min(retention, state_topic->config.retention_ms);
  int64_t due = now_ms - retention / 4;
  for (auto& [name, group] : groups_) {
    std::set<TopicPartition> stale;
    for (const auto& [tp, share] : group.partitions) {
      auto written = group.written_ms.find(tp);
      if (written == group.written_ms.end() || written->second <= due) stale.insert(tp);
    }
    if (stale.empty()) continue;
    Status written = persist_locked(name, stale).status();
    // Leadership moved: the next sweep drops the group here.
    if (!written.ok() && written.code() != ErrorCode::not_leader) {
      spdlog::warn("share group {}: writing its state again before {}'s retention drops it: {}", name,
                   kShareStateTopic, written.to_string());
    }
  }
}

void ShareCoordinator::move_dead_letters() {
  struct Letter {
    std::string group;
    TopicPartition tp;
    Offset offset;
    InFlightRecord state;
  };
  std::vector<Letter> letters;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [name, group] : groups_) {
      for (const auto& [tp, share] : group.partitions) {
        for (Offset offset : share.dead_lettering()) {
          if (dead_lettering_.insert({name, tp, offset}).second) {
            letters.push_back({name, tp, offset, share.records().at(offset)});
          }
        }
      }
    }
  }
  for (const auto& letter : letters) {
    // Not now (this replica's copy does not hold it yet): the next sweep tries again.
    auto later = [this, letter] {
      std::lock_guard lock(mutex_);
      dead_lettering_.erase({letter.group, letter.tp, letter.offset});
    };
    auto finish = [this, letter](Status s) {
      std::lock_guard lock(mutex_);
      dead_lettering_.erase({letter.group, letter.tp, letter.offset});
      if (!s.ok()) {
        spdlog::warn("share group {}: moving {} offset {} to its dead-letter topic: {} (retried)", letter.group,
                     letter.tp, letter.offset.value, s.to_string());
        return;
      }
      // Moved on (another coordinator took the group): it copies the letter
      // again, as after a crash; this one must not write its old state.
      if (!coordinate_locked(letter.group).ok()) return;
      auto group = groups_.find(letter.group);
      if (group == groups_.end()) return;
      auto share = group->second.partitions.find(letter.tp);
      if (share == group->second.partitions.end()) return;
      share->second.mark_dead_lettered(letter.offset);
      ++group->second.dead_lettered;
      Status written = persist_locked(letter.group, {letter.tp}).status();
      if (!written.ok()) spdlog::warn("share group {}: saving a dead letter: {}", letter.group, written.to_string());
    };
    auto source = topics_.partition(letter.tp);
    if (!source) {
      if (topics_.topic(letter.tp.topic)) {
        later();  // not hosted here (the partition moved away): fetches say so
      } else {
        finish({});  // the topic is gone: nothing to keep
      }
      continue;
    }
    if (letter.offset >= source->high_watermark()) {
      later();
      continue;
    }
    std::optional<Record> original;
    auto scanned = scan_records(*source, letter.offset, [&](const Record& record) {
      if (record.offset == letter.offset) original = record;
      return false;
    });
    if (!scanned.ok()) {
      finish(scanned.status());
      continue;
    }
    if (!original) {
      finish({});  // compacted or retention removed it meanwhile
      continue;
    }
    auto source_topic = topics_.topic(letter.tp.topic);
    if (!source_topic) {
      finish({});  // the topic is gone: nothing to keep
      continue;
    }
    const InFlightRecord& s = letter.state;
    original->headers.push_back({std::string(dead_letter::kSourceTopic), letter.tp.topic});
    original->headers.push_back({std::string(dead_letter::kSourcePartition), std::to_string(letter.tp.partition)});
    original->headers.push_back({std::string(dead_letter::kSourceOffset), std::to_string(letter.offset.value)});
    original->headers.push_back({std::string(dead_letter::kGroup), letter.group});
    original->headers.push_back({std::string(dead_letter::kDeliveryCount), std::to_string(s.delivery_count)});
    original->headers.push_back({std::string(dead_letter::kLastError), s.last_error});
    original->headers.push_back({std::string(dead_letter::kFirstDeliveryMs), std::to_string(s.first_delivery_ms)});
    original->headers.push_back({std::string(dead_letter::kLastDeliveryMs), std::to_string(s.last_delivery_ms)});
    dead_letters_->write(dead_letter_topic_of(*source_topic), static_cast<int32_t>(source_topic->partitions.size()),
                         letter.tp.partition, std::move(*original), finish);
  }
}

void ShareCoordinator::stop() {
  std::vector<std::shared_ptr<PendingFetch>> waiting;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
    waiting = waiting_;
  }
  sweep_timer_.cancel();
  for (const auto& pending : waiting) pending->timer.cancel();
  // Dead letters in flight finish (or fail, to be moved after a restart).
  dead_letters_->close();
}

}  // namespace cairn::broker
