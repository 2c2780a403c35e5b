#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "proto/status.h"
#include "storage/env.h"

namespace cairn::broker {

// Hands out idempotent producers' ids: unique across the cluster and
// across restarts. An id is this broker's node id in the high bits and a
// counter in the low 40; the counter is reserved in blocks, each block's
// end written durably to a file before any id of it is handed out, so a
// crash skips ids but never repeats one. A counter starts no lower than
// the wall-clock seconds times 256, so a broker whose folder was wiped
// does not hand out its earlier ids again either (unless it handed out
// more than 256 a second on average). Thread-safe.
class ProducerIdAllocator {
 public:
  static constexpr int kCounterBits = 40;
  static constexpr int64_t kBlockSize = 1'000;

  // The allocator whose reservations live in `path`.
  static Result<std::unique_ptr<ProducerIdAllocator>> open(storage::Env& env, std::string path,
                                                           int32_t node_id);
  Result<int64_t> next();

 private:
  ProducerIdAllocator(storage::Env& env, std::string path, int32_t node_id)
      : env_(env), path_(std::move(path)), node_id_(node_id) {}
  Status reserve_locked();

  storage::Env& env_;
  const std::string path_;
  const int32_t node_id_;
  std::mutex mutex_;
  int64_t next_ = 0;      // the next counter value to hand out
  int64_t reserved_ = 0;  // counter values below it are reserved on disk
};

}  // namespace cairn::broker
