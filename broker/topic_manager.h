#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/partition.h"
#include "broker/topic_registry.h"
#include "proto/topic_partition.h"
#include "storage/log_config.h"
#include "storage/partition_log.h"
#include "storage/store.h"

namespace cairn::broker {

// A topic with its effective config and partitions.
struct Topic {
  std::string name;
  std::map<std::string, std::string> config_overrides;
  storage::LogConfig config;
  std::vector<std::shared_ptr<Partition>> partitions;
};

// The topics of a single broker: their partitions in the store and their
// specs in the topic registry file. Thread-safe.
//
// Locks, and the order in which they nest (a lock may be held while taking
// one further right, never one further left, so no cycle can form):
//   TopicManager::changes_mutex_ -> GroupCoordinator::mutex_
//     -> TopicManager::mutex_ -> storage locks (Store, PartitionLog)
// changes_mutex_ serialises create, alter and remove, and is held while they
// call out (closing a removed topic's logs completes its pending flush
// waiters, whose callbacks take the group coordinator's mutex; the removal
// listener takes it too). mutex_ guards only the map and is never held while
// calling out of the manager: the coordinator looks topics up under its own
// mutex. Nothing may take changes_mutex_ while holding the coordinator's.
class TopicManager {
 public:
  // Reopens every registered topic's partitions (recovering them).
  // `max_message_bytes_limit` (the broker's --max-request-bytes) bounds the
  // max.message.bytes a topic may be created or altered with.
  static Result<std::unique_ptr<TopicManager>> open(storage::Store& store,
                                                    std::string registry_path,
                                                    storage::LogConfig defaults,
                                                    int64_t max_message_bytes_limit);

  static constexpr int32_t kMaxPartitions = 10'000;

  Status create(const std::string& name, int32_t partitions,
                const std::map<std::string, std::string>& overrides);
  Status remove(const std::string& name);
  Status alter(const std::string& name, const std::map<std::string, std::string>& set);

  // Called with a topic's name once remove() has taken it out of the registry,
  // holding changes_mutex_ (see the lock order above). Set before the manager
  // is shared between threads.
  void set_removal_listener(std::function<void(const std::string&)> listener) {
    removal_listener_ = std::move(listener);
  }

  // Null when the topic or partition does not exist.
  std::shared_ptr<Partition> partition(const TopicPartition& tp) const;
  std::optional<Topic> topic(const std::string& name) const;
  std::vector<Topic> topics() const;

 private:
  TopicManager(storage::Store& store, std::string registry_path, storage::LogConfig defaults,
               int64_t max_message_bytes_limit);
  Result<Topic> open_topic(const TopicSpec& spec);
  // The config `overrides` give; refuses a `changed` key the broker's limits forbid.
  Result<storage::LogConfig> config_for_change(
      const std::map<std::string, std::string>& overrides,
      const std::map<std::string, std::string>& changed) const;
  // Caller holds changes_mutex_, so registry writes happen in change order.
  Status save_registry() const;

  storage::Store& store_;
  const std::string registry_path_;
  const storage::LogConfig defaults_;
  const int64_t max_message_bytes_limit_;
  std::function<void(const std::string&)> removal_listener_;
  std::mutex changes_mutex_;
  mutable std::mutex mutex_;
  std::map<std::string, Topic> topics_;  // guarded by mutex_
};

// Refuses a client's request to `action` ("produce to", "delete", ...) an
// internal topic, with the typed internal_topic error; ok for other topics.
Status refuse_if_internal(const std::string& topic, std::string_view action);

}  // namespace cairn::broker
