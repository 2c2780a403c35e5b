#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "storage/partition_log.h"

namespace cairn::storage {

struct ScrubOptions {
  // Bytes verified per second at most, over all partitions; 0 turns
  // scrubbing off. The broker's default (--scrub-bytes-per-second) is 8 MiB/s.
  int64_t bytes_per_second = 0;
  // A pass over every log starts at most this often, in ms (the first when
  // the store opens). Default 24 hours.
  int64_t interval_ms = 24LL * 3600 * 1000;
};

// What the scrubber did since the store opened.
struct ScrubStats {
  uint64_t passes = 0;        // finished
  uint64_t bytes = 0;         // verified
  uint64_t damage_found = 0;  // reads that failed verification
};

// Reads every partition's stable bytes (durable and, in a Raft group,
// committed: never truncated under the read) now and then, throttled,
// verifying each batch's CRC as any read does. Damage in data that nothing reads
// (bit rot, a bad sector, a stray write) is so found while the other
// replicas still hold a good copy: the read reports it to the log's damage
// listener, which has a replicated partition repair itself. Without it such
// damage waits for a reader, and a second fault can meanwhile take the last
// good copy.
//
// A log opened after the scrubber started (opened(), once its owner has set
// it up) is verified once as soon as the scrubber can, at its rate, and
// then in every pass: a restarted broker so checks its logs right away
// without reading them at start (recovery checks only what was written
// since the last flush).
//
// A read goes through the page cache: bytes damaged on the disk under a
// cached page are found once the page is evicted (old data mostly is).
// Thread-safe; stops (promptly, mid-pass) when destroyed.
class Scrubber {
 public:
  using Logs = std::function<std::vector<std::shared_ptr<PartitionLog>>()>;
  // `logs` lists the logs to verify; called once per pass.
  Scrubber(Logs logs, ScrubOptions options);
  ~Scrubber();

  // Starts the background thread, unless scrubbing is off.
  void start();
  // Ends the pass under way and the thread; for good.
  void stop();
  // One whole pass on the calling thread, throttled as the thread's are.
  void run_pass();
  // A log opened since start(): verified soon, before the next pass is due.
  void opened(std::weak_ptr<PartitionLog> log);
  ScrubStats stats() const;

 private:
  // Verifies [log start, stable end as the scrub of it begins) of one log,
  // held only while it reads a chunk (a deleted log's files are not kept
  // open); false when stopping.
  bool scrub(const std::weak_ptr<PartitionLog>& log);
  // Waits until `bytes` more keep the pass under bytes_per_second, with at
  // most a second's worth of catching up after a stall; false when stopping.
  bool throttle(uint64_t bytes);
  // Resets the rate's reference: what follows is throttled from now.
  void begin_throttling();
  void loop();

  const Logs logs_;
  const ScrubOptions options_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  ScrubStats stats_;
  std::vector<std::weak_ptr<PartitionLog>> opened_;  // not verified since they opened
  // The throttled run under way (a pass, or the logs just opened): when it
  // began and what it verified since.
  std::chrono::steady_clock::time_point pass_start_;
  uint64_t pass_bytes_ = 0;
  std::thread thread_;
};

}  // namespace cairn::storage
