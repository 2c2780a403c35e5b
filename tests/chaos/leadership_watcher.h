#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace cairn::chaos {

// What the brokers' metrics (cairn_partition_leader, cairn_partition_raft_term)
// told of a topic's leadership through a run, scraped every 100 ms from each
// broker's --metrics-listen port: elections, leader changes, and the longest
// time a partition had no leader. A partition has a leader while some
// broker that answers says it leads it (a broker paused or cut off from its
// peers may still say so until it steps down).
class LeadershipWatcher {
 public:
  struct Seen {
    int64_t elections = 0;       // Raft terms begun, over all partitions
    int64_t leader_changes = 0;  // a partition's leader seen to change
    std::chrono::milliseconds longest_without_leader{0};
    int32_t longest_partition = -1;  // whose it was
    int64_t scrapes = 0;             // answered ones
  };

  // `ports`: broker id -> metrics port.
  LeadershipWatcher(std::string topic, int32_t partitions, std::map<int32_t, int> ports);
  ~LeadershipWatcher();
  LeadershipWatcher(const LeadershipWatcher&) = delete;
  LeadershipWatcher& operator=(const LeadershipWatcher&) = delete;

  // Stops sampling; what was seen.
  Seen stop();
  // Raft terms begun so far (elections), over all partitions. Any thread.
  int64_t terms_begun() const { return terms_begun_.load(); }

 private:
  using Clock = std::chrono::steady_clock;
  struct PartitionSeen {
    int64_t first_term = -1;
    int64_t last_term = -1;
    int32_t leader = -1;
    std::optional<Clock::time_point> leaderless_since;
  };

  void run();
  void sample_once();
  void end_leaderless(PartitionSeen& partition, int32_t number, Clock::time_point now);

  const std::string topic_;
  const std::map<int32_t, int> ports_;
  std::vector<PartitionSeen> partitions_;  // by partition; the sampling thread's
  Seen seen_;                              // the sampling thread's until stopped
  std::atomic<int64_t> terms_begun_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace cairn::chaos
