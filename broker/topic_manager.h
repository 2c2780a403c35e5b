#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "broker/read_waiters.h"
#include "broker/topic_registry.h"
#include "proto/topic_partition.h"
#include "storage/log_config.h"
#include "storage/partition_log.h"
#include "storage/store.h"

namespace cairn::broker {

// A partition this broker serves: its log and the fetches waiting on it.
// The high watermark — what readers may see — is the flushed offset until
// replication makes it the committed one.
struct Partition {
  TopicPartition tp;
  std::shared_ptr<storage::PartitionLog> log;
  ReadWaiters waiters;

  Offset high_watermark() const { return log->flushed(); }
};

// A topic with its effective config and partitions.
struct Topic {
  std::string name;
  std::map<std::string, std::string> config_overrides;
  storage::LogConfig config;
  std::vector<std::shared_ptr<Partition>> partitions;
};

// The topics of a single broker: their partitions in the store and their
// specs in the topic registry file. Thread-safe; topic changes serialise on
// one mutex, lookups copy shared pointers out.
class TopicManager {
 public:
  // Reopens every registered topic's partitions (recovering them).
  static Result<std::unique_ptr<TopicManager>> open(storage::Store& store,
                                                    std::string registry_path,
                                                    storage::LogConfig defaults);

  static constexpr int32_t kMaxPartitions = 10'000;

  Status create(const std::string& name, int32_t partitions,
                const std::map<std::string, std::string>& overrides);
  Status remove(const std::string& name);
  Status alter(const std::string& name, const std::map<std::string, std::string>& set);

  // Null when the topic or partition does not exist.
  std::shared_ptr<Partition> partition(const TopicPartition& tp) const;
  std::optional<Topic> topic(const std::string& name) const;
  std::vector<Topic> topics() const;

 private:
  TopicManager(storage::Store& store, std::string registry_path, storage::LogConfig defaults);
  Result<Topic> open_topic(const TopicSpec& spec);
  Status save_locked() const;

  storage::Store& store_;
  const std::string registry_path_;
  const storage::LogConfig defaults_;
  mutable std::mutex mutex_;
  std::map<std::string, Topic> topics_;
};

}  // namespace cairn::broker
