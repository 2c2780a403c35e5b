#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "storage/env.h"

namespace cairn::storage {

// Another Env whose file syncs each take `delay` longer: a disk with a slow
// fsync. Fault tests run a broker on it (cairnd --test-sync-delay-ms) to
// show that what waits for durability waits for the sync itself, which a
// SIGKILL, keeping the page cache, cannot tell.
class SlowSyncEnv final : public Env {
 public:
  SlowSyncEnv(Env& base, std::chrono::milliseconds delay) : base_(base), delay_(delay) {}

  Result<std::unique_ptr<File>> open_file(const std::string& path, bool create) override;
  Status create_dirs(const std::string& path) override { return base_.create_dirs(path); }
  Result<std::vector<std::string>> list_dir(const std::string& path) override {
    return base_.list_dir(path);
  }
  bool exists(const std::string& path) override { return base_.exists(path); }
  bool is_dir(const std::string& path) override { return base_.is_dir(path); }
  Status remove_file(const std::string& path) override { return base_.remove_file(path); }
  Status rename_file(const std::string& from, const std::string& to) override {
    return base_.rename_file(from, to);
  }
  Status remove_all(const std::string& path) override { return base_.remove_all(path); }
  Status sync_dir(const std::string& path) override { return base_.sync_dir(path); }

 private:
  Env& base_;
  const std::chrono::milliseconds delay_;
};

}  // namespace cairn::storage
