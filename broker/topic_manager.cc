#include "broker/topic_manager.h"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>

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

int32_t Topic::leader_of(int32_t p, int32_t self) const {
  const auto& partition = partitions.at(static_cast<size_t>(p));
  if (!partition) return -1;
  if (!partition->replica()) return self;
  return partition->replica()->leader().value_or(-1);
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
  if (manager->registry_path_.empty()) return manager;
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
  Topic topic{spec.name, spec.config_overrides, *config, {}, spec.replicas, spec.topic_id};
  for (int32_t p = 0; p < spec.partitions; ++p) {
    const std::vector<int32_t>* replicas =
        spec.replicas.empty() ? nullptr : &spec.replicas[static_cast<size_t>(p)];
    if (replicas && std::find(replicas->begin(), replicas->end(), replica_host_->self()) ==
                        replicas->end()) {
      topic.partitions.push_back(nullptr);  // hosted by other brokers only
      continue;
    }
    TopicPartition tp{spec.name, p};
    auto log = store_.open_partition(tp, *config);
    if (!log.ok()) return log.status();
    const auto& report = (*log)->recovery_report();
    spdlog::info("opened {}: offsets [{}, {}), {} segment(s){}", tp, (*log)->log_start(),
                 (*log)->log_end(), (*log)->segment_count(),
                 report.scan_skipped ? ", clean shutdown"
                                     : fmt::format(", {} batch(es) verified", report.batches_scanned));
    if (!replicas) {
      topic.partitions.push_back(Partition::serve(tp, std::move(*log)));
      continue;
    }
    auto partition = replica_host_->serve(tp, std::move(*log), *replicas, spec.topic_id);
    if (!partition.ok()) return partition.status();
    topic.partitions.push_back(std::move(*partition));
  }
  return topic;
}

Status TopicManager::save_registry() const {
  if (registry_path_.empty()) return {};
  std::vector<TopicSpec> specs;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [name, t] : topics_) {
      specs.push_back({name, static_cast<int32_t>(t.partitions.size()), t.config_overrides, t.replicas,
                     t.topic_id});
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
      config_for_change(spec.config_overrides, limits == Limits::check ? spec.config_overrides
                                                                        : std::map<std::string, std::string>{})
          .status());
  if (topic(spec.name)) {
    return error(ErrorCode::topic_already_exists, "topic '{}' already exists", spec.name);
  }
  return {};
}

Status TopicManager::create(const TopicSpec& spec, Limits limits) {
  std::lock_guard changes(changes_mutex_);
  CAIRN_RETURN_IF_ERROR(check_new(spec, limits));
  // Opening creates folders and recovers leftovers: slow, so lookups go on meanwhile.
  auto opened = open_topic(spec);
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
    if (!partition) continue;
    if (partition->replica()) replica_host_->stop(*partition);
    CAIRN_RETURN_IF_ERROR(store_.remove_partition(partition->tp()));
    if (partition->replica()) {
      CAIRN_RETURN_IF_ERROR(replica_host_->forget(partition->tp(), topic.topic_id));
    }
    partition->waiters().wake_all();
  }
  spdlog::info("deleted topic {}", name);
  return {};
}

Status TopicManager::check_alter(const std::string& name,
                                 const std::map<std::string, std::string>& set, Limits limits) const {
  auto topic = this->topic(name);
  if (!topic) return error(ErrorCode::unknown_topic_or_partition, "topic '{}' does not exist", name);
  auto overrides = topic->config_overrides;
  for (const auto& [key, value] : set) overrides[key] = value;
  return config_for_change(overrides, limits == Limits::check ? set : std::map<std::string, std::string>{})
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
    auto config = config_for_change(topic.config_overrides,
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
