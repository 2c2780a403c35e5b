#include "storage/store.h"

#include <charconv>

#include <spdlog/spdlog.h>

#include "proto/thread_name.h"

namespace cairn::storage {

constexpr const char* kIndexFolder = ".index";

Store::Store(StoreOptions options) : options_(std::move(options)) {}

Result<std::unique_ptr<Store>> Store::open(StoreOptions options) {
  if (options.data_dir.empty()) return error(ErrorCode::invalid_config, "a data folder is required");
  if (options.flush_threads < 1) {
    return error(ErrorCode::invalid_config, "flush_threads must be at least 1, not {}", options.flush_threads);
  }
  std::unique_ptr<Store> store(new Store(std::move(options)));
  const StoreOptions& o = store->options_;
  CAIRN_RETURN_IF_ERROR(o.env->create_dirs(o.data_dir));
  auto index = IndexStore::open(o.data_dir + "/" + kIndexFolder);
  if (!index.ok()) return index.status();
  store->index_ = std::move(*index);
  Store* raw = store.get();
  store->flusher_ = std::make_unique<Flusher>(o.flush_threads, o.flush_check_interval_ms,
                                              [raw](Flusher& flusher) { raw->request_due_flushes(flusher); });
  if (o.retention_check_interval_ms > 0) {
    store->retention_thread_ = std::thread([raw] {
      name_this_thread("cairn-retention");
      raw->retention_loop();
    });
  }
  store->scrubber_ = std::make_unique<Scrubber>([raw] { return raw->open_logs(); }, o.scrub);
  store->scrubber_->start();
  return store;
}

Store::~Store() {
  if (scrubber_) scrubber_->stop();
  {
    std::lock_guard lock(retention_mutex_);
    stopping_ = true;
  }
  retention_wake_.notify_one();
  if (retention_thread_.joinable()) retention_thread_.join();
  flusher_.reset();
}

std::string Store::partition_dir(const TopicPartition& tp) const {
  return fmt::format("{}/{}/{}", options_.data_dir, tp.topic, tp.partition);
}

Result<std::shared_ptr<PartitionLog>> Store::open_partition(const TopicPartition& tp,
                                                            const LogConfig& config) {
  CAIRN_RETURN_IF_ERROR(validate_topic_name(tp.topic));
  if (tp.partition < 0) {
    return error(ErrorCode::invalid_request, "partition must be >= 0, not {}", tp.partition);
  }
  std::lock_guard lock(mutex_);
  if (closed_) return error(ErrorCode::shutting_down, "the store is closed");
  if (auto it = logs_.find(tp); it != logs_.end()) return it->second;
  auto opened = PartitionLog::open(*options_.env, *options_.clock, *index_, tp,
                                   partition_dir(tp), config);
  if (!opened.ok()) return opened.status();
  std::shared_ptr<PartitionLog> log = std::move(*opened);
  std::weak_ptr<PartitionLog> weak = log;
  Flusher* flusher = flusher_.get();
  log->set_flush_hook([weak, flusher] {
    if (auto strong = weak.lock()) flusher->request(std::move(strong));
  });
  logs_[tp] = log;
  return log;
}

std::shared_ptr<PartitionLog> Store::partition(const TopicPartition& tp) const {
  std::lock_guard lock(mutex_);
  auto it = logs_.find(tp);
  return it == logs_.end() ? nullptr : it->second;
}

Status Store::remove_partition(const TopicPartition& tp) {
  std::shared_ptr<PartitionLog> log;
  {
    std::lock_guard lock(mutex_);
    auto it = logs_.find(tp);
    if (it != logs_.end()) {
      log = it->second;
      logs_.erase(it);
    }
  }
  if (log) {
    Status closed = log->close();
    if (!closed.ok()) spdlog::warn("closing {} before removal: {}", tp, closed.to_string());
  }
  CAIRN_RETURN_IF_ERROR(index_->drop_partition(tp));
  if (!options_.env->exists(partition_dir(tp))) return {};  // gone already
  CAIRN_RETURN_IF_ERROR(options_.env->remove_all(partition_dir(tp)));
  return options_.env->sync_dir(fmt::format("{}/{}", options_.data_dir, tp.topic));
}

std::vector<TopicPartition> Store::partitions() const {
  std::lock_guard lock(mutex_);
  std::vector<TopicPartition> out;
  for (const auto& [tp, log] : logs_) out.push_back(tp);
  return out;
}

Result<std::vector<TopicPartition>> Store::partitions_on_disk() const {
  Env& env = *options_.env;
  auto topics = env.list_dir(options_.data_dir);
  if (!topics.ok()) return topics.status();
  std::vector<TopicPartition> out;
  for (const auto& topic : *topics) {
    std::string topic_dir = options_.data_dir + "/" + topic;
    if (!validate_topic_name(topic).ok() || !env.is_dir(topic_dir)) continue;
    auto partitions = env.list_dir(topic_dir);
    if (!partitions.ok()) return partitions.status();
    for (const auto& name : *partitions) {
      int32_t partition = -1;
      auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), partition);
      if (ec == std::errc() && end == name.data() + name.size() && partition >= 0) {
        out.push_back({topic, partition});
      }
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::shared_ptr<PartitionLog>> Store::open_logs() const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<PartitionLog>> out;
  for (const auto& [tp, log] : logs_) out.push_back(log);
  return out;
}

size_t Store::run_retention() {
  size_t deleted = 0;
  for (const auto& log : open_logs()) {
    auto n = log->apply_retention();
    if (n.ok()) {
      deleted += *n;
    } else {
      spdlog::error("retention of {} failed: {}", log->topic_partition(), n.status().to_string());
    }
  }
  return deleted;
}

size_t Store::run_compaction() {
  size_t cleaned = 0;
  for (const auto& log : open_logs()) {
    if (!compacts(log->config().cleanup_policy)) continue;
    auto result = log->compact();
    if (result.ok()) {
      cleaned += result->segments_cleaned;
    } else {
      spdlog::error("compaction of {} failed: {}", log->topic_partition(),
                    result.status().to_string());
    }
  }
  return cleaned;
}

void Store::request_due_flushes(Flusher& flusher) {
  for (auto& log : open_logs()) {
    if (log->flush_due()) flusher.request(std::move(log));
  }
}

void Store::retention_loop() {
  std::unique_lock lock(retention_mutex_);
  while (!stopping_) {
    retention_wake_.wait_for(lock, std::chrono::milliseconds(options_.retention_check_interval_ms),
                             [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    run_retention();
    run_compaction();
    lock.lock();
  }
}

Status Store::close() {
  std::vector<std::shared_ptr<PartitionLog>> logs;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return {};
    closed_ = true;
    for (auto& [tp, log] : logs_) logs.push_back(log);
  }
  scrubber_->stop();
  Status first_error;
  for (auto& log : logs) {
    Status s = log->close();
    if (!s.ok() && first_error.ok()) first_error = s;
  }
  return first_error;
}

}  // namespace cairn::storage
