#include "broker/topic_manager.h"

#include <spdlog/spdlog.h>

namespace cairn::broker {

TopicManager::TopicManager(storage::Store& store, std::string registry_path,
                           storage::LogConfig defaults)
    : store_(store), registry_path_(std::move(registry_path)), defaults_(defaults) {}

Result<std::unique_ptr<TopicManager>> TopicManager::open(storage::Store& store,
                                                         std::string registry_path,
                                                         storage::LogConfig defaults) {
  std::unique_ptr<TopicManager> manager(
      new TopicManager(store, std::move(registry_path), defaults));
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
    auto partition = std::make_shared<Partition>();
    partition->tp = {spec.name, p};
    partition->log = *log;
    std::weak_ptr<Partition> weak = partition;
    partition->log->set_flushed_listener([weak](Offset) {
      if (auto strong = weak.lock()) strong->waiters.wake_all();
    });
    const auto& report = partition->log->recovery_report();
    spdlog::info("opened {}: offsets [{}, {}), {} segment(s){}", partition->tp,
                 partition->log->log_start(), partition->log->log_end(),
                 partition->log->segment_count(),
                 report.scan_skipped ? ", clean shutdown"
                                     : fmt::format(", {} batch(es) verified", report.batches_scanned));
    topic.partitions.push_back(std::move(partition));
  }
  return topic;
}

Status TopicManager::save_locked() const {
  std::vector<TopicSpec> specs;
  for (const auto& [name, t] : topics_) {
    specs.push_back({name, static_cast<int32_t>(t.partitions.size()), t.config_overrides});
  }
  return save_topics(registry_path_, specs);
}

Status TopicManager::create(const std::string& name, int32_t partitions,
                            const std::map<std::string, std::string>& overrides) {
  CAIRN_RETURN_IF_ERROR(validate_topic_name(name));
  if (partitions < 1 || partitions > kMaxPartitions) {
    return error(ErrorCode::invalid_request, "a topic needs 1 to {} partitions, not {}",
                 kMaxPartitions, partitions);
  }
  std::lock_guard lock(mutex_);
  if (topics_.count(name)) {
    return error(ErrorCode::topic_already_exists, "topic '{}' already exists", name);
  }
  auto topic = open_topic({name, partitions, overrides});
  if (!topic.ok()) return topic.status();
  topics_[name] = std::move(*topic);
  CAIRN_RETURN_IF_ERROR(save_locked());
  spdlog::info("created topic {} with {} partition(s)", name, partitions);
  return {};
}

Status TopicManager::remove(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto it = topics_.find(name);
  if (it == topics_.end()) {
    return error(ErrorCode::unknown_topic_or_partition, "topic '{}' does not exist", name);
  }
  Topic topic = std::move(it->second);
  topics_.erase(it);
  // The registry forgets the topic first: a crash midway leaves orphan files,
  // never a topic without its data.
  CAIRN_RETURN_IF_ERROR(save_locked());
  for (const auto& partition : topic.partitions) {
    CAIRN_RETURN_IF_ERROR(store_.remove_partition(partition->tp));
    partition->waiters.wake_all();
  }
  spdlog::info("deleted topic {}", name);
  return {};
}

Status TopicManager::alter(const std::string& name, const std::map<std::string, std::string>& set) {
  std::lock_guard lock(mutex_);
  auto it = topics_.find(name);
  if (it == topics_.end()) {
    return error(ErrorCode::unknown_topic_or_partition, "topic '{}' does not exist", name);
  }
  auto overrides = it->second.config_overrides;
  for (const auto& [key, value] : set) overrides[key] = value;
  auto config = defaults_.with(overrides);
  if (!config.ok()) return config.status();
  it->second.config_overrides = overrides;
  it->second.config = *config;
  for (const auto& partition : it->second.partitions) partition->log->set_config(*config);
  CAIRN_RETURN_IF_ERROR(save_locked());
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
