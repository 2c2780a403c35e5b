#include "storage/scrubber.h"

#include <spdlog/spdlog.h>

#include "proto/assert.h"
#include "proto/thread_name.h"

namespace cairn::storage {

namespace {

// Read per step: large enough to verify at disk speed, small enough that
// throttling stays smooth and a stop is prompt.
constexpr size_t kChunkBytes = 1 << 20;

}  // namespace

Scrubber::Scrubber(Logs logs, ScrubOptions options) : logs_(std::move(logs)), options_(options) {}

Scrubber::~Scrubber() { stop(); }

void Scrubber::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Scrubber::start() {
  if (options_.bytes_per_second <= 0) return;
  CAIRN_ASSERT(!thread_.joinable());
  thread_ = std::thread([this] {
    name_this_thread("cairn-scrub");
    loop();
  });
}

ScrubStats Scrubber::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void Scrubber::opened(std::weak_ptr<PartitionLog> log) {
  if (options_.bytes_per_second <= 0) return;
  {
    std::lock_guard lock(mutex_);
    opened_.push_back(std::move(log));
  }
  wake_.notify_all();
}

void Scrubber::loop() {
  auto next_pass = std::chrono::steady_clock::now();
  while (true) {
    std::vector<std::weak_ptr<PartitionLog>> fresh;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_until(lock, next_pass, [this] { return stopping_ || !opened_.empty(); });
      if (stopping_) return;
      fresh.swap(opened_);
    }
    if (std::chrono::steady_clock::now() >= next_pass) {
      next_pass = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.interval_ms);
      run_pass();  // the fresh logs are open, so in it
      continue;
    }
    begin_throttling();
    for (const auto& log : fresh) {
      if (!scrub(log)) return;
    }
  }
}

void Scrubber::begin_throttling() {
  std::lock_guard lock(mutex_);
  pass_start_ = std::chrono::steady_clock::now();
  pass_bytes_ = 0;
}

void Scrubber::run_pass() {
  begin_throttling();
  std::vector<std::weak_ptr<PartitionLog>> logs;
  for (const auto& log : logs_()) logs.push_back(log);
  for (const auto& log : logs) {
    if (!scrub(log)) return;
  }
  std::lock_guard lock(mutex_);
  ++stats_.passes;
}

bool Scrubber::scrub(const std::weak_ptr<PartitionLog>& weak) {
  std::shared_ptr<PartitionLog> log = weak.lock();
  if (!log) return true;
  Offset offset = log->log_start();
  // Fixed for this pass: a log written as fast as it is scrubbed still ends.
  // Past it the tail may still be truncated (a read racing the truncation
  // would look like damage), and is read by followers and consumers anyway.
  const Offset end = log->stable_end();
  while (offset < end) {
    auto read = log->read(offset, kChunkBytes, end, FirstBatch::always);
    if (!read.ok()) {
      switch (read.status().code()) {
        case ErrorCode::storage_corrupt: {
          // The read told the log's damage listener; the next pass looks again.
          spdlog::error("scrub: {}: {}", log->topic_partition(), read.status().to_string());
          std::lock_guard lock(mutex_);
          ++stats_.damage_found;
          return true;
        }
        case ErrorCode::offset_out_of_range:
          // Retention moved the start past us, or a repair cut the log.
          if (offset < log->log_start()) {
            offset = log->log_start();
            continue;
          }
          return true;
        default:
          spdlog::warn("scrub: {}: {} (verified again next pass)", log->topic_partition(),
                       read.status().to_string());
          return true;
      }
    }
    if (read->next_offset <= offset) return true;
    offset = read->next_offset;
    size_t bytes = read->bytes.size();
    log.reset();  // not held while waiting
    if (!throttle(bytes)) return false;
    log = weak.lock();
    if (!log) return true;  // deleted meanwhile
  }
  return true;
}

bool Scrubber::throttle(uint64_t bytes) {
  std::unique_lock lock(mutex_);
  stats_.bytes += bytes;
  pass_bytes_ += bytes;
  if (options_.bytes_per_second <= 0) return !stopping_;
  auto due = pass_start_ + std::chrono::microseconds(static_cast<int64_t>(
                               static_cast<double>(pass_bytes_) * 1e6 / static_cast<double>(options_.bytes_per_second)));
  auto now = std::chrono::steady_clock::now();
  constexpr auto kMaxCatchUp = std::chrono::seconds(1);
  if (now - due > kMaxCatchUp) {
    // Behind after a stall: forgive all but a second of it, not a burst at disk speed.
    pass_start_ += (now - due) - kMaxCatchUp;
    due = now - kMaxCatchUp;
  }
  return !wake_.wait_until(lock, due, [this] { return stopping_; });
}

}  // namespace cairn::storage
