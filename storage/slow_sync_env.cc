#include "storage/slow_sync_env.h"

#include <thread>

namespace cairn::storage {

namespace {

class SlowSyncFile final : public ForwardingFile {
 public:
  SlowSyncFile(std::unique_ptr<File> base, std::chrono::milliseconds delay)
      : ForwardingFile(std::move(base)), delay_(delay) {}

  // The sync covers what was appended before it began, as fdatasync does.
  Status sync() override {
    std::this_thread::sleep_for(delay_);
    return base().sync();
  }

 private:
  const std::chrono::milliseconds delay_;
};

}  // namespace

Result<std::unique_ptr<File>> SlowSyncEnv::open_file(const std::string& path, bool create) {
  auto file = ForwardingEnv::open_file(path, create);
  if (!file.ok()) return file.status();
  return std::unique_ptr<File>(std::make_unique<SlowSyncFile>(std::move(*file), delay_));
}

}  // namespace cairn::storage
