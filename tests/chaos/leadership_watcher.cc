#include "leadership_watcher.h"

#include <fmt/format.h>

#include <algorithm>

#include "metrics_scrape.h"

namespace cairn::chaos {

using testing::metric_sample;
using testing::scrape_metrics;

LeadershipWatcher::LeadershipWatcher(std::string topic, int32_t partitions, std::map<int32_t, int> ports)
    : topic_(std::move(topic)), ports_(std::move(ports)), partitions_(static_cast<size_t>(partitions)) {
  thread_ = std::thread([this] { run(); });
}

LeadershipWatcher::~LeadershipWatcher() { stop(); }

LeadershipWatcher::Seen LeadershipWatcher::stop() {
  stop_ = true;
  if (thread_.joinable()) {
    thread_.join();
    auto now = Clock::now();
    for (size_t p = 0; p < partitions_.size(); ++p) end_leaderless(partitions_[p], static_cast<int32_t>(p), now);
    seen_.elections = terms_begun_.load();
  }
  return seen_;
}

void LeadershipWatcher::run() {
  while (!stop_) {
    auto next = Clock::now() + std::chrono::milliseconds(100);
    sample_once();
    std::this_thread::sleep_until(next);
  }
}

void LeadershipWatcher::sample_once() {
  std::vector<std::pair<int32_t, std::string>> answers;
  for (const auto& [id, port] : ports_) {
    // Short: a paused broker must not stall the others' samples.
    if (auto text = scrape_metrics(port, std::chrono::milliseconds(200))) answers.emplace_back(id, std::move(*text));
  }
  seen_.scrapes += static_cast<int64_t>(answers.size());
  if (answers.empty()) return;  // no broker answers: nothing known, not even that none leads
  auto now = Clock::now();
  int64_t terms_begun = 0;
  for (size_t p = 0; p < partitions_.size(); ++p) {
    PartitionSeen& partition = partitions_[p];
    std::string labels = fmt::format(R"({{topic="{}",partition="{}"}})", topic_, p);
    int32_t leader = -1;
    int64_t leader_term = -1, term = -1;
    for (const auto& [id, text] : answers) {
      auto their_term = static_cast<int64_t>(metric_sample(text, "cairn_partition_raft_term" + labels));
      term = std::max(term, their_term);
      // A broker says it leads: the newest term's such broker is the leader.
      if (static_cast<int32_t>(metric_sample(text, "cairn_partition_leader" + labels)) == id &&
          their_term > leader_term) {
        leader = id;
        leader_term = their_term;
      }
    }
    if (term >= 0) {
      if (partition.first_term < 0) partition.first_term = term;
      partition.last_term = std::max(partition.last_term, term);
    }
    if (partition.first_term >= 0) terms_begun += partition.last_term - partition.first_term;
    if (leader < 0) {
      if (!partition.leaderless_since) partition.leaderless_since = now;
      continue;
    }
    end_leaderless(partition, static_cast<int32_t>(p), now);
    if (partition.leader >= 0 && partition.leader != leader) ++seen_.leader_changes;
    partition.leader = leader;
  }
  terms_begun_ = terms_begun;
}

void LeadershipWatcher::end_leaderless(PartitionSeen& partition, int32_t number, Clock::time_point now) {
  if (!partition.leaderless_since) return;
  auto without = std::chrono::duration_cast<std::chrono::milliseconds>(now - *partition.leaderless_since);
  partition.leaderless_since.reset();
  if (without > seen_.longest_without_leader) {
    seen_.longest_without_leader = without;
    seen_.longest_partition = number;
  }
}

}  // namespace cairn::chaos
