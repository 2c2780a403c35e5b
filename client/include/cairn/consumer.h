#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cairn/client_options.h"
#include "proto/record_batch.h"
#include "proto/status.h"
#include "proto/strong_int.h"
#include "proto/topic_partition.h"

namespace cairn {

// Where a partition without a position starts.
enum class OffsetReset { earliest, latest, none };

struct ConsumerOptions {
  ClientOptions client;
  // earliest, latest (default) or none (poll fails with offset_out_of_range).
  OffsetReset auto_offset_reset = OffsetReset::latest;
  // A fetch waits up to this long for fetch_min_bytes, in ms. Default 500.
  int32_t fetch_max_wait_ms = 500;
  int32_t fetch_min_bytes = 1;
  // Bytes per fetch over all partitions, and per partition. Defaults 50 MiB, 1 MiB.
  int32_t fetch_max_bytes = 50 << 20;
  int32_t partition_max_bytes = 1 << 20;
  // Records one poll() returns at most. Default 10000.
  int32_t max_poll_records = 10'000;
};

struct ConsumerRecord {
  std::string topic;
  int32_t partition = 0;
  Record record;  // key, value, headers, timestamp, offset
};

// Reads assigned partitions (manual assignment). Fetches are pipelined:
// the next fetch to a broker is in flight while poll() decodes the last.
// Records come in offset order per partition; batches are CRC-checked.
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

  // Records available now, or within `timeout`; empty when none came.
  virtual Result<std::vector<ConsumerRecord>> poll(std::chrono::milliseconds timeout) = 0;
  virtual void close() = 0;
};

}  // namespace cairn
