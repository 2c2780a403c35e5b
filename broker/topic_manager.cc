#include "broker/topic_manager.h"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "broker/share/share_topic_config.h"
#include "proto/assert.h"

namespace cairn::broker {

Status refuse_if_internal(const std::string& topic, std::string_view action) {
  if (!is_internal_topic(topic)) return {};
  return error(ErrorCode::internal_topic,
               "'{}' is an internal topic: the broker manages it, clients cannot {} it "
               "(names starting with '__' are reserved)",
               topic, action);
}

std::vector<int32_t> Topic::replicas_of(int32_t p, int32_t self) const {
  if (replicas.empty()) return {self};
  return replicas.at(static_cast<size_t>(p));
}

std::vector<int32_t> Topic::target_of(int32_t p) const {
  if (targets.empty()) return {};
  return targets.at(static_cast<size_t>(p));
}

int64_t Topic::move_id_of(int32_t p) const {
  if (move_ids.empty()) return -1;
  return move_ids.at(static_cast<size_t>(p));
}

int32_t Topic::leader_of(int32_t p, int32_t self) const {
  const auto& partition = partitions.at(static_cast<size_t>(p));
  if (!partition) return -1;
  if (!partition->replica()) return self;
  return partition->replica()->leader().value_or(-1);
}

TopicManager::TopicManager(storage::Store& store, std::string registry_path,
                           storage::LogConfig defaults, int64_t max_message_bytes_limit,
                           ReplicaHost* replica_host)
    : store_(store), registry_path_(std::move(registry_path)), defaults_(defaults),
      max_message_bytes_limit_(max_message_bytes_limit), replica_host_(replica_host) {}

Result<std::unique_ptr<TopicManager>> TopicManager::open(storage::Store& store,
                                                         std::string registry_path,
                                                         storage::LogConfig defaults,
                                                         int64_t max_message_bytes_limit,
                                                         ReplicaHost* replica_host) {
  std::unique_ptr<TopicManager> manager(new TopicManager(
      store, std::move(registry_path), defaults, max_message_bytes_limit, replica_host));
  if (manager->registry_path_.empty()) return manager;
  auto registry = load_topics(manager->registry_path_);
  if (!registry.ok()) return registry.status();
  manager->metadata_applied_ = Offset(registry->metadata_applied);
  manager->decommissioned_ = registry->decommissioned_brokers;
  for (const auto& spec : registry->topics) {
    if (!spec.replicas.empty() && !replica_host) {
      return error(ErrorCode::invalid_config,
                   "{} holds the replicated topics of a broker of a cluster ('{}' among them); "
                   "start it with its --controller-voters",
                   manager->registry_path_, spec.name);
    }
    auto topic = manager->open_topic(spec, false);
    if (!topic.ok()) return topic.status();
    manager->topics_[spec.name] = std::move(*topic);
  }
  return manager;
}

Status TopicManager::ensure_state_topic(const std::string& name, int32_t partitions) {
  if (topic(name)) return {};
  Status created = create(name, partitions, {{"cleanup.policy", "compact"}, {"segment.bytes", "104857600"}});
  return created.code() == ErrorCode::topic_already_exists ? Status() : created;
}

Result<Topic> TopicManager::open_topic(const TopicSpec& spec, bool fresh) {
  auto config = defaults_.with(log_overrides(spec.config_overrides));
  if (!config.ok()) return config.status();
  Topic topic{spec.name,     spec.config_overrides, *config,      {},
              spec.replicas, spec.topic_id,         spec.targets, spec.move_ids};
  for (int32_t p = 0; p < spec.partitions; ++p) {
    auto partition = open_partition(topic, p, fresh);
    if (!partition.ok()) return partition.status();
    topic.partitions.push_back(std::move(*partition));
  }
  return topic;
}

Result<std::shared_ptr<Partition>> TopicManager::open_partition(const Topic& topic, int32_t p,
                                                                bool fresh) {
  TopicPartition tp{topic.name, p};
  bool replicated = !topic.replicas.empty();
  std::vector<int32_t> replicas = topic.replicas_of(p, -1);
  std::vector<int32_t> target = topic.target_of(p);
  auto hosts = [&](const std::vector<int32_t>& ids) {
    return replicated && std::find(ids.begin(), ids.end(), replica_host_->self()) != ids.end();
  };
  bool founding = hosts(replicas);
  if (replicated && !founding && !hosts(target)) return std::shared_ptr<Partition>();  // hosted by other brokers only
  // A replica that ran in this incarnation is never wiped: it may have
  // voted and acknowledged records (a crash before the registry saved its
  // creation replays it here).
  if (fresh && !(replicated && replica_host_->has_state(tp, topic.topic_id))) {
    // Nothing of an earlier incarnation here may survive: its records would
    // pass for this one's.
    CAIRN_RETURN_IF_ERROR(store_.remove_partition(tp));
  }
  auto log = store_.open_partition(tp, topic.config);
  if (!log.ok()) return log.status();
  const auto& report = (*log)->recovery_report();
  spdlog::info("opened {}: offsets [{}, {}), {} segment(s){}", tp, (*log)->log_start(),
               (*log)->log_end(), (*log)->segment_count(),
               report.scan_skipped ? ", clean shutdown"
                                   : fmt::format(", {} batch(es) verified", report.batches_scanned));
  // Verified soon once served: a replica first sets its delete limit.
  std::weak_ptr<storage::PartitionLog> served = *log;
  if (!replicated) {
    auto partition = Partition::serve(tp, std::move(*log));
    store_.verify_soon(served);
    return partition;
  }
  // A replica that joins a moving partition learns the group's members from
  // its leader; only the topic's first replicas found the group.
  auto partition = replica_host_->serve(tp, std::move(*log),
                                        founding ? replicas : std::vector<int32_t>{}, topic.topic_id);
  if (!partition.ok()) return partition.status();
  store_.verify_soon(served);
  (*partition)->replica()->set_assignment(replicas, target);
  return partition;
}

Status TopicManager::close_and_remove(Partition& partition, int64_t topic_id) {
  if (partition.replica()) replica_host_->stop(partition);
  CAIRN_RETURN_IF_ERROR(store_.remove_partition(partition.tp()));
  if (partition.replica()) CAIRN_RETURN_IF_ERROR(replica_host_->forget(partition.tp(), topic_id));
  partition.waiters().wake_all();
  return {};
}

TopicRegistry TopicManager::image() const {
  TopicRegistry registry;
  std::lock_guard lock(mutex_);
  for (const auto& [name, t] : topics_) {
    registry.topics.push_back({name, static_cast<int32_t>(t.partitions.size()), t.config_overrides,
                               t.replicas, t.topic_id, t.targets, t.move_ids});
  }
  registry.metadata_applied = metadata_applied_.value;
  registry.decommissioned_brokers = decommissioned_;
  return registry;
}

Status TopicManager::save_registry() const {
  if (registry_path_.empty()) return {};
  return save_topics(store_.env(), registry_path_, image());
}

Offset TopicManager::metadata_applied() const {
  std::lock_guard lock(mutex_);
  return metadata_applied_;
}

Status TopicManager::mark_metadata_applied(Offset next) {
  std::lock_guard changes(changes_mutex_);
  {
    std::lock_guard lock(mutex_);
    CAIRN_ASSERT(next >= metadata_applied_);
    metadata_applied_ = next;
  }
  return save_registry();
}

// Topics that exist keep whatever config they were given (a restart with a
// smaller --max-request-bytes must not stop the broker), but a change may not
// set a max.message.bytes that no request could ever carry.
Result<storage::LogConfig> TopicManager::config_for_change(
    const std::string& topic, const std::map<std::string, std::string>& overrides,
    const std::map<std::string, std::string>& changed) const {
  CAIRN_RETURN_IF_ERROR(share_topic_config(topic, overrides).status());
  auto config = defaults_.with(log_overrides(overrides));
  if (!config.ok()) return config.status();
  if (changed.count("max.message.bytes") && config->max_message_bytes > max_message_bytes_limit_) {
    return error(ErrorCode::invalid_config,
                 "max.message.bytes {} is above the broker's --max-request-bytes {}: a batch "
                 "that large could never be produced; lower it or raise --max-request-bytes",
                 config->max_message_bytes, max_message_bytes_limit_);
  }
  return config;
}

Status TopicManager::check_new(const TopicSpec& spec, Limits limits) const {
  CAIRN_RETURN_IF_ERROR(validate_topic_name(spec.name));
  if (spec.partitions < 1 || spec.partitions > kMaxPartitions) {
    return error(ErrorCode::invalid_request, "a topic needs 1 to {} partitions, not {}",
                 kMaxPartitions, spec.partitions);
  }
  if (replica_host_ && spec.replicas.empty()) {
    return error(ErrorCode::invalid_request,
                 "topic '{}': in a cluster, topics are created through the controller", spec.name);
  }
  CAIRN_ASSERT(spec.replicas.empty() || (replica_host_ && static_cast<int32_t>(spec.replicas.size()) ==
                                                              spec.partitions));
  CAIRN_RETURN_IF_ERROR(
      config_for_change(spec.name, spec.config_overrides, limits == Limits::check ? spec.config_overrides
                                                                        : std::map<std::string, std::string>{})
          .status());
  if (topic(spec.name)) {
    return error(ErrorCode::topic_already_exists, "topic '{}' already exists", spec.name);
  }
  return {};
}

void TopicManager::create_on_first_use(const std::string& name, int32_t partitions) {
  if (topic(name)) return;
  if (first_use_creator_) {
    first_use_creator_(name);
    return;
  }
  Status created = create(name, partitions, {});
  if (!created.ok() && created.code() != ErrorCode::topic_already_exists) {
    spdlog::warn("auto-creating topic {} failed: {}", name, created.to_string());
  } else if (created.ok()) {
    spdlog::info("created topic {} on its first use (--auto-create-topics)", name);
  }
}

Status TopicManager::create(const TopicSpec& spec, Limits limits) {
  std::lock_guard changes(changes_mutex_);
  CAIRN_RETURN_IF_ERROR(check_new(spec, limits));
  // Opening creates folders: slow, so lookups go on meanwhile.
  auto opened = open_topic(spec, true);
  if (!opened.ok()) return opened.status();
  {
    std::lock_guard lock(mutex_);
    topics_[spec.name] = std::move(*opened);
  }
  CAIRN_RETURN_IF_ERROR(save_registry());
  spdlog::info("created topic {} with {} partition(s)", spec.name, spec.partitions);
  return {};
}

Status TopicManager::remove(const std::string& name) {
  std::lock_guard changes(changes_mutex_);
  Topic topic;
  {
    std::lock_guard lock(mutex_);
    auto it = topics_.find(name);
    if (it == topics_.end()) {
      return error(ErrorCode::unknown_topic_or_partition, "topic '{}' does not exist", name);
    }
    topic = std::move(it->second);
    topics_.erase(it);
  }
  // The registry forgets the topic first: a crash midway leaves orphan files,
  // never a topic without its data.
  CAIRN_RETURN_IF_ERROR(save_registry());
  if (removal_listener_) removal_listener_(name);
  for (const auto& partition : topic.partitions) {
    if (partition) CAIRN_RETURN_IF_ERROR(close_and_remove(*partition, topic.topic_id));
  }
  spdlog::info("deleted topic {}", name);
  return {};
}

std::set<int32_t> TopicManager::decommissioned_brokers() const {
  std::lock_guard lock(mutex_);
  return decommissioned_;
}

Status TopicManager::set_decommissioned(int32_t broker, bool decommissioned) {
  std::lock_guard changes(changes_mutex_);
  {
    std::lock_guard lock(mutex_);
    if (decommissioned) {
      decommissioned_.insert(broker);
    } else {
      decommissioned_.erase(broker);
    }
  }
  return save_registry();
}

Result<Topic> TopicManager::replicated_topic(const std::string& name, int64_t topic_id, int32_t p) const {
  auto topic = this->topic(name);
  if (!topic || topic->topic_id != topic_id || topic->replicas.empty() || p < 0 ||
      p >= static_cast<int32_t>(topic->partitions.size())) {
    return error(ErrorCode::unknown_topic_or_partition, "{}/{} (topic id {}) does not exist", name, p,
                 topic_id);
  }
  return std::move(*topic);
}

Status TopicManager::start_move(const std::string& name, int64_t topic_id, int32_t p,
                                const std::vector<int32_t>& target, int64_t move_id) {
  std::lock_guard changes(changes_mutex_);
  auto topic = replicated_topic(name, topic_id, p);
  if (!topic.ok()) return topic.status();
  auto index = static_cast<size_t>(p);
  topic->targets.resize(topic->partitions.size());
  topic->targets[index] = target;
  topic->move_ids.resize(topic->partitions.size(), -1);
  topic->move_ids[index] = move_id;
  std::shared_ptr<Partition> partition = topic->partitions[index];
  if (!partition) {
    auto opened = open_partition(*topic, p, true);
    if (!opened.ok()) return opened.status();
    partition = std::move(*opened);
  } else {
    partition->replica()->set_assignment(topic->replicas[index], target);
  }
  {
    std::lock_guard lock(mutex_);
    auto& stored = topics_.at(name);  // changes_mutex_ held: still there
    stored.targets = topic->targets;
    stored.move_ids = topic->move_ids;
    stored.partitions[index] = partition;
  }
  CAIRN_RETURN_IF_ERROR(save_registry());
  spdlog::info("{}/{}: moving from brokers {} to {}", name, p, fmt::join(topic->replicas[index], ","),
               fmt::join(target, ","));
  return {};
}

Status TopicManager::finish_move(const std::string& name, int64_t topic_id, int32_t p,
                                 int64_t move_id) {
  std::lock_guard changes(changes_mutex_);
  auto topic = replicated_topic(name, topic_id, p);
  if (!topic.ok()) return topic.status();
  auto index = static_cast<size_t>(p);
  std::vector<int32_t> target = topic->target_of(p);
  // Finished already (applied again after a crash), or another move's.
  if (target.empty() || topic->move_id_of(p) != move_id) return {};
  std::shared_ptr<Partition> partition = topic->partitions[index];
  bool stays = std::find(target.begin(), target.end(), replica_host_->self()) != target.end();
  auto set = [&](const Topic& from) {
    std::lock_guard lock(mutex_);
    topics_.at(name) = from;  // changes_mutex_ held: still there
  };
  Topic finished = *topic;
  finished.replicas[index] = target;
  finished.targets[index].clear();
  finished.move_ids[index] = -1;
  if (!stays) finished.partitions[index] = nullptr;
  set(finished);
  // The registry forgets the replica before its files go: a crash between
  // leaves orphan files, which a later move here removes before it opens.
  if (Status saved = save_registry(); !saved.ok()) {
    set(*topic);  // as before: applied again, it is finished again
    return saved;
  }
  if (partition && stays) partition->replica()->set_assignment(target, {});
  if (partition && !stays) CAIRN_RETURN_IF_ERROR(close_and_remove(*partition, topic_id));
  spdlog::info("{}/{}: moved to brokers {}", name, p, fmt::join(target, ","));
  return {};
}

Status TopicManager::install_image(const TopicRegistry& image) {
  std::map<std::string, const TopicSpec*> wanted;
  for (const auto& spec : image.topics) wanted[spec.name] = &spec;
  for (const auto& topic : topics()) {
    auto it = wanted.find(topic.name);
    if (it == wanted.end() || it->second->topic_id != topic.topic_id) {
      CAIRN_RETURN_IF_ERROR(remove(topic.name));
    }
  }
  // Each step is one the metadata log could have made, and is idempotent:
  // a crash midway installs the image again from the start.
  for (const auto& spec : image.topics) {
    auto topic = this->topic(spec.name);
    if (!topic) {
      CAIRN_RETURN_IF_ERROR(create(spec, Limits::trust));
      continue;
    }
    // Configs are only ever set, never unset, so setting the image's
    // catches up with every change missed.
    if (topic->config_overrides != spec.config_overrides) {
      CAIRN_RETURN_IF_ERROR(alter(spec.name, spec.config_overrides, Limits::trust));
    }
    // Where each partition's replicas and move stand now: never a replica
    // removed that the image keeps (one whose move was cancelled may still
    // be a voter), only one that a finished move left out.
    Topic want{spec.name, {}, {}, {}, spec.replicas, spec.topic_id, spec.targets, spec.move_ids};
    for (int32_t p = 0; p < spec.partitions; ++p) {
      if (topic->replicas_of(p, -1) == want.replicas_of(p, -1) && topic->target_of(p) == want.target_of(p) &&
          topic->move_id_of(p) == want.move_id_of(p)) {
        continue;
      }
      CAIRN_RETURN_IF_ERROR(set_placement(spec.name, spec.topic_id, p, want.replicas_of(p, -1),
                                          want.target_of(p), want.move_id_of(p)));
    }
  }
  {
    std::lock_guard changes(changes_mutex_);
    {
      std::lock_guard lock(mutex_);
      decommissioned_ = image.decommissioned_brokers;
      CAIRN_ASSERT(Offset(image.metadata_applied) >= metadata_applied_);
      metadata_applied_ = Offset(image.metadata_applied);
    }
    CAIRN_RETURN_IF_ERROR(save_registry());
  }
  spdlog::info("installed the cluster metadata image at offset {}: {} topic(s)",
               image.metadata_applied, image.topics.size());
  return {};
}

Status TopicManager::set_placement(const std::string& name, int64_t topic_id, int32_t p,
                                   const std::vector<int32_t>& replicas,
                                   const std::vector<int32_t>& target, int64_t move_id) {
  std::lock_guard changes(changes_mutex_);
  auto topic = replicated_topic(name, topic_id, p);
  if (!topic.ok()) return topic.status();
  auto index = static_cast<size_t>(p);
  auto has_self = [&](const std::vector<int32_t>& ids) {
    return std::find(ids.begin(), ids.end(), replica_host_->self()) != ids.end();
  };
  // Out of both only once a move that left this broker out finished: its
  // group no longer counts this replica, which may go.
  bool hosts = has_self(replicas) || has_self(target);
  Topic placed = *topic;
  placed.replicas[index] = replicas;
  placed.targets.resize(placed.partitions.size());
  placed.targets[index] = target;
  placed.move_ids.resize(placed.partitions.size(), -1);
  placed.move_ids[index] = target.empty() ? -1 : move_id;
  std::shared_ptr<Partition> partition = topic->partitions[index];
  if (hosts && !partition) {
    auto opened = open_partition(placed, p, true);
    if (!opened.ok()) return opened.status();
    partition = std::move(*opened);
  } else if (hosts) {
    partition->replica()->set_assignment(replicas, target);
  }
  placed.partitions[index] = hosts ? partition : nullptr;
  {
    std::lock_guard lock(mutex_);
    topics_.at(name) = placed;  // changes_mutex_ held: still there
  }
  // The registry forgets the replica before its files go (as finish_move).
  CAIRN_RETURN_IF_ERROR(save_registry());
  if (!hosts && partition) CAIRN_RETURN_IF_ERROR(close_and_remove(*partition, topic_id));
  spdlog::info("{}/{}: placed on brokers {}{}", name, p, fmt::join(replicas, ","),
               target.empty() ? "" : fmt::format(", moving to {}", fmt::join(target, ",")));
  return {};
}

Status TopicManager::check_alter(const std::string& name,
                                 const std::map<std::string, std::string>& set, Limits limits) const {
  auto topic = this->topic(name);
  if (!topic) return error(ErrorCode::unknown_topic_or_partition, "topic '{}' does not exist", name);
  auto overrides = topic->config_overrides;
  for (const auto& [key, value] : set) overrides[key] = value;
  return config_for_change(name, overrides, limits == Limits::check ? set : std::map<std::string, std::string>{})
      .status();
}

Status TopicManager::alter(const std::string& name, const std::map<std::string, std::string>& set,
                           Limits limits) {
  std::lock_guard changes(changes_mutex_);
  CAIRN_RETURN_IF_ERROR(check_alter(name, set, limits));
  {
    std::lock_guard lock(mutex_);
    auto& topic = topics_.at(name);  // changes_mutex_ held: still there
    for (const auto& [key, value] : set) topic.config_overrides[key] = value;
    auto config = config_for_change(name, topic.config_overrides,
                                    limits == Limits::check ? set : std::map<std::string, std::string>{});
    CAIRN_ASSERT(config.ok());
    topic.config = *config;
    for (const auto& partition : topic.partitions) {
      if (partition) partition->set_config(*config);
    }
  }
  CAIRN_RETURN_IF_ERROR(save_registry());
  spdlog::info("altered configs of topic {}", name);
  return {};
}

std::shared_ptr<Partition> TopicManager::partition(const TopicPartition& tp) const {
  std::lock_guard lock(mutex_);
  auto it = topics_.find(tp.topic);
  if (it == topics_.end() || tp.partition < 0 ||
      tp.partition >= static_cast<int32_t>(it->second.partitions.size())) {
    return nullptr;
  }
  return it->second.partitions[static_cast<size_t>(tp.partition)];
}

Status TopicManager::why_no_partition(const TopicPartition& tp) const {
  auto topic = this->topic(tp.topic);
  if (!topic) {
    return error(ErrorCode::unknown_topic_or_partition,
                 "topic '{}' does not exist; create it first (cairn topic create {})", tp.topic, tp.topic);
  }
  auto count = static_cast<int32_t>(topic->partitions.size());
  if (tp.partition < 0 || tp.partition >= count) {
    return error(ErrorCode::unknown_topic_or_partition, "topic '{}' has partitions 0..{}, not {}",
                 tp.topic, count - 1, tp.partition);
  }
  return error(ErrorCode::not_leader, "{}: this broker hosts no replica of it; brokers {} do", tp,
               fmt::join(topic->replicas_of(tp.partition, -1), ","));
}

std::optional<Topic> TopicManager::topic(const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto it = topics_.find(name);
  if (it == topics_.end()) return std::nullopt;
  return it->second;
}

std::vector<Topic> TopicManager::topics() const {
  std::lock_guard lock(mutex_);
  std::vector<Topic> out;
  for (const auto& [name, t] : topics_) out.push_back(t);
  return out;
}

}  // namespace cairn::broker
