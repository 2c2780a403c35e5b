#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "proto/status.h"
#include "proto/topic_partition.h"
#include "storage/clock.h"
#include "storage/env.h"
#include "storage/flusher.h"
#include "storage/index_store.h"
#include "storage/log_config.h"
#include "storage/partition_log.h"
#include "storage/scrubber.h"

namespace cairn::storage {

struct StoreOptions {
  // Root of the broker's data: <data_dir>/<topic>/<partition>/ holds segment
  // files, <data_dir>/.index the RocksDB index. Required.
  std::string data_dir;
  // Files and time; tests substitute a FaultInjectionEnv and a ManualClock.
  // Must outlive the store.
  Env* env = &Env::posix();
  Clock* clock = &Clock::steady_wall();
  // How often retention, then compaction, run in the background, in ms; 0
  // disables the background pass (call run_retention() and
  // run_compaction()). Default 300000 (5 minutes).
  int64_t retention_check_interval_ms = 300'000;
  // How often the interval flush policy is checked, in ms. Default 50.
  int64_t flush_check_interval_ms = 50;
  // Partitions synced at once (Flusher). Default 4.
  int flush_threads = 4;
  // Background verification of stored bytes; off unless a rate is set.
  ScrubOptions scrub;
};

// All the partition logs of one broker, with their shared index, the
// group-commit flusher, the retention thread (which also compacts) and the
// scrubber.
//
// close() shuts down cleanly (sync, clean-shutdown marks). Destroying a store
// that was not closed stops its threads but syncs nothing: that is what a
// crash leaves behind, and the crash tests rely on it.
// Thread-safe.
class Store {
 public:
  static Result<std::unique_ptr<Store>> open(StoreOptions options);
  ~Store();

  // Opens (recovering) or creates the partition's log.
  Result<std::shared_ptr<PartitionLog>> open_partition(const TopicPartition& tp,
                                                       const LogConfig& config);
  // The open log of a partition, or null.
  std::shared_ptr<PartitionLog> partition(const TopicPartition& tp) const;
  // Closes the partition and deletes its files and index entries; nothing
  // to do for a partition without files.
  Status remove_partition(const TopicPartition& tp);
  std::vector<TopicPartition> partitions() const;
  // Partitions with a folder under the data folder, open or not.
  Result<std::vector<TopicPartition>> partitions_on_disk() const;

  // One retention pass over every open partition; returns segments deleted.
  size_t run_retention();
  // One compaction pass over every open partition whose cleanup.policy
  // compacts; returns segments cleaned.
  size_t run_compaction();
  ScrubStats scrub_stats() const { return scrubber_->stats(); }
  // Has the scrubber verify `log` once soon, not only at its next pass
  // (Scrubber::opened). For its owner to call once it has set the log up:
  // a Raft replica's delete limit keeps the scrub off a tail that may still
  // be truncated.
  void verify_soon(std::weak_ptr<PartitionLog> log) { scrubber_->opened(std::move(log)); }

  Status close();

  IndexStore& index() { return *index_; }
  const std::string& data_dir() const { return options_.data_dir; }
  Env& env() const { return *options_.env; }
  std::string partition_dir(const TopicPartition& tp) const;

 private:
  explicit Store(StoreOptions options);
  void retention_loop();
  void request_due_flushes(Flusher& flusher);
  std::vector<std::shared_ptr<PartitionLog>> open_logs() const;

  const StoreOptions options_;
  std::unique_ptr<IndexStore> index_;

  mutable std::mutex mutex_;
  std::map<TopicPartition, std::shared_ptr<PartitionLog>> logs_;
  bool closed_ = false;

  std::unique_ptr<Flusher> flusher_;
  std::mutex retention_mutex_;
  std::condition_variable retention_wake_;
  bool stopping_ = false;
  std::thread retention_thread_;
  std::unique_ptr<Scrubber> scrubber_;
};

}  // namespace cairn::storage
