#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cairn/client_options.h"
#include "cairn/record.h"
#include "cairn/status.h"
#include "cairn/strong_int.h"
#include "cairn/topic_partition.h"

namespace cairn {

// Where a partition without a position starts.
enum class OffsetReset { earliest, latest, none };

struct ConsumerOptions {
  ClientOptions client;
  // Where a partition starts when it has no position (none committed), and
  // where it goes on when its position is outside the log (retention deleted
  // it, or it is past the end): earliest (the log start), latest (default,
  // the end), or none (poll fails with offset_out_of_range naming the
  // partition and position, at every poll until the application seeks).
  OffsetReset auto_offset_reset = OffsetReset::latest;
  // Called from poll(), on the polling thread, when a position outside the
  // log was moved per auto_offset_reset: the partition, the position that
  // was out of range and the new one. Default none (the move is silent).
  std::function<void(const TopicPartition&, Offset out_of_range, Offset reset_to)> on_offset_reset;
  // A fetch waits up to this long for fetch_min_bytes, in ms. Default 500.
  int32_t fetch_max_wait_ms = 500;
  int32_t fetch_min_bytes = 1;
  // Bytes per fetch over all partitions, and per partition. Defaults 50 MiB, 1 MiB.
  int32_t fetch_max_bytes = 50 << 20;
  int32_t partition_max_bytes = 1 << 20;
  // Records one poll() returns at most. Default 10000.
  int32_t max_poll_records = 10'000;
  // Brokers that do not answer (down, restarting, unreachable) are retried,
  // pausing per ClientOptions::retry_backoff_ms; poll() fails with
  // broker_unavailable once requests failed for this long, in ms, with no
  // answer in between (and again after each further such period), while the
  // consumer keeps retrying. Default 60000.
  int32_t reconnect_timeout_ms = 60'000;

  // Consumer groups (subscribe()). The group this consumer joins; empty
  // (default) allows only manual assign().
  std::string group_id;
  // The coordinator removes a member silent this long, in ms. Default 10000.
  int32_t session_timeout_ms = 10'000;
  // Commit consumed positions every auto_commit_interval_ms from poll(), and
  // before partitions are revoked and at close(). Default on, 5000 ms.
  bool enable_auto_commit = true;
  int32_t auto_commit_interval_ms = 5'000;
  // "uniform" (default: balanced and sticky) or "range".
  std::string assignor = "uniform";
};

// Called from poll() (on the polling thread) when the group moves
// partitions. on_revoked runs before the partitions are given up — commit
// there what was processed; with auto-commit the consumer already does.
// on_lost runs instead when this member lost its membership (fenced by the
// coordinator, or no heartbeat accepted for session_timeout_ms): the
// partitions may be another member's already, so their positions are dropped
// and nothing can be committed for them; the consumer rejoins and reads what
// it is assigned again from the committed offsets.
struct RebalanceListener {
  std::function<void(const std::vector<TopicPartition>&)> on_revoked;
  std::function<void(const std::vector<TopicPartition>&)> on_assigned;
  std::function<void(const std::vector<TopicPartition>&)> on_lost;
};

// A record poll() handed out, and where it was read.
struct ConsumerRecord {
  std::string topic;
  int32_t partition = 0;
  Record record;

  // Null key or value: absent (a null value is a tombstone).
  const std::optional<std::string>& key() const { return record.key; }
  const std::optional<std::string>& value() const { return record.value; }
  const std::vector<RecordHeader>& headers() const { return record.headers; }
  Offset offset() const { return record.offset; }
  int64_t timestamp_ms() const { return record.timestamp_ms; }
};

// Reads partitions assigned by hand (assign) or by its group (subscribe).
// Delivery is at least once: records are handed out, the application
// processes them, and the position committed is the next offset to read.
// After a crash, or a rebalance that moves a partition, the new owner starts
// at the last commit, so records consumed after that commit are delivered
// again — make processing idempotent, or commit after each batch.
// Fetches are pipelined:
// the next fetch to a broker is in flight while poll() decodes the last.
// Records come in offset order per partition; batches are CRC-checked. A
// batch that does not decode is never skipped: poll() hands out the records
// before it, then fails with corrupt_batch naming its partition and offsets,
// and again at every poll until the application seeks past it.
// Not thread-safe: one thread polls (like Kafka's consumer).
class Consumer {
 public:
  static Result<std::unique_ptr<Consumer>> create(ConsumerOptions options);
  virtual ~Consumer() = default;

  // Replaces the assignment; new partitions start per auto_offset_reset.
  virtual Status assign(const std::vector<TopicPartition>& partitions) = 0;
  virtual std::vector<TopicPartition> assignment() const = 0;

  virtual Status seek(const TopicPartition& tp, Offset offset) = 0;
  virtual Status seek_to_beginning(const std::vector<TopicPartition>& partitions) = 0;
  virtual Status seek_to_end(const std::vector<TopicPartition>& partitions) = 0;
  // The first offset with a timestamp at or after `timestamp_ms` (the end if none).
  virtual Status seek_to_time(const std::vector<TopicPartition>& partitions, int64_t timestamp_ms) = 0;
  // The offset of the next record poll() returns for the partition.
  virtual Result<Offset> position(const TopicPartition& tp) = 0;

  // Joins group_id and reads what the coordinator assigns, among these
  // topics or the topics matching `pattern` (ECMAScript regex). Partitions
  // start at the group's committed offset, else per auto_offset_reset.
  // Asks a broker for metadata first: fails at once with broker_unavailable
  // when none answers, and with unknown_topic_or_partition when one of
  // `topics` does not exist (a pattern matches topics created later too).
  virtual Status subscribe(const std::vector<std::string>& topics, RebalanceListener listener = {}) = 0;
  virtual Status subscribe_pattern(const std::string& pattern, RebalanceListener listener = {}) = 0;
  // Commits the consumed positions (the next offsets to read) of every
  // owned partition, or the given offsets; waits until durable.
  virtual Status commit_sync() = 0;
  virtual Status commit_sync(const std::map<TopicPartition, Offset>& offsets) = 0;
  // The same without waiting; `done` (optional) runs on a background thread.
  virtual void commit_async(std::function<void(Status)> done = {}) = 0;
  // The group's committed offsets of these partitions (absent: none).
  virtual Result<std::map<TopicPartition, Offset>> committed(const std::vector<TopicPartition>& partitions) = 0;

  // Records available now, or within `timeout`; empty when none came.
  // Fails with woken_up when wakeup() was called since the last poll.
  virtual Result<std::vector<ConsumerRecord>> poll(std::chrono::milliseconds timeout) = 0;
  // The one call any thread may make: a poll() waiting for records returns
  // woken_up at once; one in the middle of a request to the coordinator
  // returns so when that ends; with no poll running, the next one does.
  // For stopping a consumer from another thread (a shutdown hook, or the
  // thread a signal handler wakes: it takes a lock, so never call it from
  // the handler itself).
  virtual void wakeup() = 0;

  // Stops handing out and fetching records of these assigned partitions,
  // keeping their positions and the group membership (for back-pressure:
  // the application keeps polling, and so stays in the group). Records of
  // theirs not handed out yet are fetched again after resume().
  virtual Status pause(const std::vector<TopicPartition>& partitions) = 0;
  virtual Status resume(const std::vector<TopicPartition>& partitions) = 0;
  virtual std::vector<TopicPartition> paused() const = 0;

  // Commits (with auto-commit), leaves the group, stops fetching, within
  // `timeout`: what cannot finish by then is abandoned (the group then
  // removes the member after its session timeout). Not bounded by it: a
  // metadata lookup already in flight (when the coordinator must be found
  // again), and commit_async() calls still running, each within the request
  // timeout. Again later: nothing.
  virtual void close(std::chrono::milliseconds timeout) = 0;
  // close() with Kafka's default of 30 s.
  void close() { close(std::chrono::seconds(30)); }
};

}  // namespace cairn
