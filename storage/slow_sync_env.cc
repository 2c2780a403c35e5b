#include "storage/slow_sync_env.h"

#include <thread>

namespace cairn::storage {

namespace {

class SlowSyncFile final : public File {
 public:
  SlowSyncFile(std::unique_ptr<File> base, std::chrono::milliseconds delay)
      : base_(std::move(base)), delay_(delay) {}

  Status append(std::span<const std::span<const std::byte>> parts) override {
    return base_->append(parts);
  }
  Result<size_t> read(uint64_t offset, std::span<std::byte> dst) const override {
    return base_->read(offset, dst);
  }
  // The sync covers what was appended before it began, as fdatasync does.
  Status sync() override {
    std::this_thread::sleep_for(delay_);
    return base_->sync();
  }
  Status truncate(uint64_t size) override { return base_->truncate(size); }
  uint64_t size() const override { return base_->size(); }

 private:
  std::unique_ptr<File> base_;
  const std::chrono::milliseconds delay_;
};

}  // namespace

Result<std::unique_ptr<File>> SlowSyncEnv::open_file(const std::string& path, bool create) {
  auto file = base_.open_file(path, create);
  if (!file.ok()) return file.status();
  return std::unique_ptr<File>(std::make_unique<SlowSyncFile>(std::move(*file), delay_));
}

}  // namespace cairn::storage
