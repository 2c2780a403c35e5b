#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cairn/admin.h"
#include "cairn/producer.h"
#include "cairn/record.h"
#include "proto/status.h"

namespace cairn::broker {

// Where the share coordinator writes dead letters: the dead-letter topic,
// created if missing, written through the cluster as any client writes (in
// a cluster another broker often leads the dead-letter partition). An
// idempotent producer with acks=all: a letter is reported written once it
// is committed, and a retried send is not written twice.
//
// The network is waited on by the sink's own thread, never by the caller's
// (the coordinator sweeps on the io_context, which also runs Raft). It
// connects on first use, once `bootstrap` names brokers (a broker alone
// knows its port once it serves). Thread-safe.
class DeadLetterSink {
 public:
  explicit DeadLetterSink(std::function<std::vector<std::string>()> bootstrap);
  ~DeadLetterSink();  // close()
  DeadLetterSink(const DeadLetterSink&) = delete;
  DeadLetterSink& operator=(const DeadLetterSink&) = delete;

  // Copies `record` (its key, value, headers and timestamp) into `topic`,
  // created with `partitions` (and the cluster's default replication
  // factor) if missing, at partition `source_partition` modulo its count.
  // `done` runs once the copy is committed or failed, on the sink's or its
  // producer's thread, never on the caller's.
  void write(std::string topic, int32_t partitions, int32_t source_partition, Record record,
             std::function<void(Status)> done);
  // Fails what was not begun, waits for what was sent (at most the
  // producer's delivery timeout); writes after it fail.
  void close();

 private:
  struct Letter {
    std::string topic;
    int32_t partitions = 0;
    int32_t source_partition = 0;
    Record record;
    std::function<void(Status)> done;
  };
  void run();
  void send(Letter letter);
  Status connect();
  // The partition count of `topic`, created if missing.
  Result<int32_t> ensure_topic(const std::string& topic, int32_t partitions);

  const std::function<std::vector<std::string>()> bootstrap_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Letter> queue_;
  bool closed_ = false;
  // The sink's thread only, until close() joins it:
  std::unique_ptr<Admin> admin_;
  std::unique_ptr<Producer> producer_;
  std::map<std::string, int32_t> partition_counts_;  // by topic
  std::thread thread_;
};

}  // namespace cairn::broker
