#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <map>
#include <string>
#include <vector>

#include "cairn/admin.h"
#include "cairn/producer.h"
#include "cairn/record.h"
#include "proto/status.h"
#include "proto/topic_partition.h"

namespace cairn::broker {

// Where the share coordinator writes dead letters: the dead-letter topic,
// created if missing, written through the cluster as any client writes (in
// a cluster another broker often leads the dead-letter partition). An
// idempotent producer with acks=all: a letter is reported written once it
// is committed, and a retried send is not written twice.
//
// Connects on first use: the broker serves by then. Thread-safe.
class DeadLetterSink {
 public:
  // `bootstrap` names brokers to connect to; asked at first use.
  explicit DeadLetterSink(std::function<std::vector<std::string>()> bootstrap);
  ~DeadLetterSink();  // close()
  DeadLetterSink(const DeadLetterSink&) = delete;
  DeadLetterSink& operator=(const DeadLetterSink&) = delete;

  // Creates `topic` with `partitions` (and the cluster's default
  // replication factor) unless it exists; its partition count.
  Result<int32_t> ensure_topic(const std::string& topic, int32_t partitions);
  // Writes `record` (its key, value, headers and timestamp) to `tp`; `done`
  // runs once it is committed or failed, on the producer's thread.
  void send(const TopicPartition& tp, const Record& record, std::function<void(Status)> done);
  // Waits for what was sent (at most kDeliveryTimeoutMs); sends after it fail.
  void close();

 private:
  Status connect_locked();

  const std::function<std::vector<std::string>()> bootstrap_;
  std::mutex mutex_;
  std::unique_ptr<Admin> admin_;
  std::unique_ptr<Producer> producer_;
  std::map<std::string, int32_t> known_topics_;  // partition counts
  bool closed_ = false;
};

}  // namespace cairn::broker
