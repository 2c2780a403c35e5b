#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace cairn::chaos {

// What every client of a fault run was told, recorded as it happened (from
// any thread) and read by the checker once the clients stopped.
class History {
 public:
  using Clock = std::chrono::steady_clock;

  // A producer sent `value` (unique in the run) to `partition`.
  void sent(const std::string& value, int32_t partition);
  // ...and was told it is at `offset`.
  void acknowledged(int producer, const std::string& value, int32_t partition, int64_t offset);
  // ...or that it failed: its outcome is unknown (it may be in the log).
  void failed(const std::string& value, const std::string& why);
  // A consumer read `value` at `offset` of `partition`.
  void read(int consumer, int32_t partition, int64_t offset, const std::string& value);
  // A group's commit of `offset` for `partition` succeeded.
  void committed(const std::string& group, int32_t partition, int64_t offset);
  // A queue's worker was handed `value`, its `delivery_count`-th delivery.
  void delivered(const std::string& value, int32_t delivery_count);
  // ...and was told its acceptance of `value` is durable.
  void accepted(const std::string& value);

  struct Acknowledged {
    int32_t partition;
    int64_t offset;
  };
  // A queue's delivery or durable acceptance, in the order they happened.
  struct QueueEvent {
    std::string value;
    int32_t delivery_count;  // 0: an acceptance
  };
  struct Read {
    int consumer;
    int32_t partition;
    int64_t offset;
    std::string value;
  };

  // Snapshots for the checker (the clients have stopped).
  std::map<std::string, int32_t> sent_values() const;
  std::map<std::string, Acknowledged> acknowledged_values() const;
  std::map<std::string, std::string> failed_values() const;
  std::vector<Read> reads() const;
  std::map<std::string, std::map<int32_t, std::vector<int64_t>>> commits() const;
  std::vector<QueueEvent> queue_events() const;
  // The longest time any producer went without an acknowledgement while it
  // was sending (an upper bound on the unavailability it saw).
  Clock::duration longest_wait_for_acknowledgement() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, int32_t> sent_;
  std::map<std::string, Acknowledged> acknowledged_;
  std::map<std::string, std::string> failed_;
  std::vector<Read> reads_;
  std::map<std::string, std::map<int32_t, std::vector<int64_t>>> commits_;  // group -> partition -> in order
  std::vector<QueueEvent> queue_events_;
  std::map<int, Clock::time_point> last_ack_;                             // by producer
  Clock::duration longest_gap_{};
  Clock::time_point started_ = Clock::now();
};

}  // namespace cairn::chaos
