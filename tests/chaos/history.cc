#include "history.h"

namespace cairn::chaos {

void History::sent(const std::string& value, int32_t partition) {
  std::lock_guard lock(mutex_);
  sent_.emplace(value, partition);
}

void History::acknowledged(int producer, const std::string& value, int32_t partition, int64_t offset) {
  std::lock_guard lock(mutex_);
  acknowledged_[value] = {partition, offset};
  auto now = Clock::now();
  auto [last, first] = last_ack_.try_emplace(producer, started_);
  longest_gap_ = std::max(longest_gap_, now - last->second);
  last->second = now;
}

void History::failed(const std::string& value, const std::string& why) {
  std::lock_guard lock(mutex_);
  failed_[value] = why;
}

void History::read(int consumer, int32_t partition, int64_t offset, const std::string& value) {
  std::lock_guard lock(mutex_);
  reads_.push_back({consumer, partition, offset, value});
}

void History::committed(const std::string& group, int32_t partition, int64_t offset) {
  std::lock_guard lock(mutex_);
  commits_[group][partition].push_back(offset);
}

void History::delivered(const std::string& value, int32_t delivery_count) {
  std::lock_guard lock(mutex_);
  queue_events_.push_back({value, delivery_count});
}

void History::accepted(const std::string& value) {
  std::lock_guard lock(mutex_);
  queue_events_.push_back({value, 0});
}

std::map<std::string, int32_t> History::sent_values() const {
  std::lock_guard lock(mutex_);
  return sent_;
}

std::map<std::string, History::Acknowledged> History::acknowledged_values() const {
  std::lock_guard lock(mutex_);
  return acknowledged_;
}

std::map<std::string, std::string> History::failed_values() const {
  std::lock_guard lock(mutex_);
  return failed_;
}

std::vector<History::Read> History::reads() const {
  std::lock_guard lock(mutex_);
  return reads_;
}

std::map<std::string, std::map<int32_t, std::vector<int64_t>>> History::commits() const {
  std::lock_guard lock(mutex_);
  return commits_;
}

std::vector<History::QueueEvent> History::queue_events() const {
  std::lock_guard lock(mutex_);
  return queue_events_;
}

History::Clock::duration History::longest_wait_for_acknowledgement() const {
  std::lock_guard lock(mutex_);
  return longest_gap_;
}

}  // namespace cairn::chaos
