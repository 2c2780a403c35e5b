#include "broker/topic_manager.h"

#include <spdlog/spdlog.h>

namespace cairn::broker {

Status refuse_if_internal(const std::string& topic, std::string_view action) {
  if (!is_internal_topic(topic)) return {};
  return error(ErrorCode::internal_topic,
               "'{}' is an internal topic: the broker manages it, clients cannot {} it "
               "(names starting with '__' are reserved)",
               topic, action);
}

TopicManager::TopicManager(storage::Store& store, std::string registry_path,
                           storage::LogConfig defaults, int64_t max_message_bytes_limit)
    : store_(store), registry_path_(std::move(registry_path)), defaults_(defaults),
      max_message_bytes_limit_(max_message_bytes_limit) {}

Result<std::unique_ptr<TopicManager>> TopicManager::open(storage::Store& store,
                                                         std::string registry_path,
                                                         storage::LogConfig defaults,
                                                         int64_t max_message_bytes_limit) {
  std::unique_ptr<TopicManager> manager(
      new TopicManager(store, std::move(registry_path), defaults, max_message_bytes_limit));
  auto specs = load_topics(manager->registry_path_);
  if (!specs.ok()) return specs.status();
  for (const auto& spec : *specs) {
    auto topic = manager->open_topic(spec);
    if (!topic.ok()) return topic.status();
    manager->topics_[spec.name] = std::move(*topic);
  }
  return manager;
}

Result<Topic> TopicManager::open_topic(const TopicSpec& spec) {
  auto config = defaults_.with(spec.config_overrides);
  if (!config.ok()) return config.status();
  Topic topic{spec.name, spec.config_overrides, *config, {}};
  for (int32_t p = 0; p < spec.partitions; ++p) {
    auto log = store_.open_partition({spec.name, p}, *config);
    if (!log.ok()) return log.status();
    const auto& report = (*log)->recovery_report();
    spdlog::info("opened {}/{}: offsets [{}, {}), {} segment(s){}", spec.name, p,
                 (*log)->log_start(), (*log)->log_end(), (*log)->segment_count(),
                 report.scan_skipped ? ", clean shutdown"
                                     : fmt::format(", {} batch(es) verified", report.batches_scanned));
    topic.partitions.push_back(Partition::serve({spec.name, p}, std::move(*log)));
  }
  return topic;
}

Status TopicManager::save_registry() const {
  std::vector<TopicSpec> specs;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [name, t] : topics_) {
      specs.push_back({name, static_cast<int32_t>(t.partitions.size()), t.config_overrides});
    }
  }
  return save_topics(registry_path_, specs);
}

// Topics that exist keep whatever config they were given (a restart with a
// smaller --max-request-bytes must not stop the broker), but a change may not
// set a max.message.bytes that no request could ever carry.
Result<storage::LogConfig> TopicManager::config_for_change(
    const std::map<std::string, std::string>& overrides,
    const std::map<std::string, std::string>& changed) const {
  auto config = defaults_.with(overrides);
  if (!config.ok()) return config.status();
  if (changed.count("max.message.bytes") && config->max_message_bytes > max_message_bytes_limit_) {
    return error(ErrorCode::invalid_config,
                 "max.message.bytes {} is above the broker's --max-request-bytes {}: a batch "
                 "that large could never be produced; lower it or raise --max-request-bytes",
                 config->max_message_bytes, max_message_bytes_limit_);
  }
  return config;
}

Status TopicManager::create(const std::string& name, int32_t partitions,
                            const std::map<std::string, std::string>& overrides) {
  CAIRN_RETURN_IF_ERROR(validate_topic_name(name));
  if (partitions < 1 || partitions > kMaxPartitions) {
    return error(ErrorCode::invalid_request, "a topic needs 1 to {} partitions, not {}",
                 kMaxPartitions, partitions);
  }
  CAIRN_RETURN_IF_ERROR(config_for_change(overrides, overrides).status());
  std::lock_guard changes(changes_mutex_);
  if (topic(name)) return error(ErrorCode::topic_already_exists, "topic '{}' already exists", name);
  // Opening creates folders and recovers leftovers: slow, so lookups go on meanwhile.
  auto opened = open_topic({name, partitions, overrides});
  if (!opened.ok()) return opened.status();
  {
    std::lock_guard lock(mutex_);
    topics_[name] = std::move(*opened);
  }
  CAIRN_RETURN_IF_ERROR(save_registry());
  spdlog::info("created topic {} with {} partition(s)", name, partitions);
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
    CAIRN_RETURN_IF_ERROR(store_.remove_partition(partition->tp()));
    partition->waiters().wake_all();
  }
  spdlog::info("deleted topic {}", name);
  return {};
}

Status TopicManager::alter(const std::string& name, const std::map<std::string, std::string>& set) {
  std::lock_guard changes(changes_mutex_);
  {
    std::lock_guard lock(mutex_);
    auto it = topics_.find(name);
    if (it == topics_.end()) {
      return error(ErrorCode::unknown_topic_or_partition, "topic '{}' does not exist", name);
    }
    auto overrides = it->second.config_overrides;
    for (const auto& [key, value] : set) overrides[key] = value;
    auto config = config_for_change(overrides, set);
    if (!config.ok()) return config.status();
    it->second.config_overrides = overrides;
    it->second.config = *config;
    for (const auto& partition : it->second.partitions) partition->set_config(*config);
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
