#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "storage/forwarding_env.h"

namespace cairn::storage {

// Another Env whose file syncs each take `delay` longer: a disk with a slow
// fsync. Fault tests run a broker on it (cairnd --test-sync-delay-ms) to
// show that what waits for durability waits for the sync itself, which a
// SIGKILL, keeping the page cache, cannot tell.
class SlowSyncEnv final : public ForwardingEnv {
 public:
  SlowSyncEnv(Env& base, std::chrono::milliseconds delay) : ForwardingEnv(base), delay_(delay) {}

  Result<std::unique_ptr<File>> open_file(const std::string& path, bool create) override;

 private:
  const std::chrono::milliseconds delay_;
};

}  // namespace cairn::storage
