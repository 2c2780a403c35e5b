#include "broker/metrics/metered_env.h"

#include <atomic>
#include <chrono>

namespace cairn::broker {
namespace {

class MeteredFile final : public storage::ForwardingFile {
 public:
  MeteredFile(std::unique_ptr<storage::File> base, BrokerMetrics& metrics)
      : ForwardingFile(std::move(base)), metrics_(metrics) {}

  Status append(std::span<const std::span<const std::byte>> parts) override {
    uint64_t bytes = 0;
    for (const auto& part : parts) bytes += part.size();
    Status appended = base().append(parts);
    if (appended.ok()) unsynced_bytes_ += bytes;
    return appended;
  }
  // Counts what was appended before the sync began, as fdatasync covers.
  Status sync() override {
    uint64_t bytes = unsynced_bytes_.exchange(0);
    auto start = std::chrono::steady_clock::now();
    Status synced = base().sync();
    metrics_.synced(std::chrono::steady_clock::now() - start, bytes);
    return synced;
  }

 private:
  BrokerMetrics& metrics_;
  std::atomic<uint64_t> unsynced_bytes_{0};
};

}  // namespace

Result<std::unique_ptr<storage::File>> MeteredEnv::open_file(const std::string& path, bool create) {
  auto file = ForwardingEnv::open_file(path, create);
  if (!file.ok()) return file.status();
  return std::unique_ptr<storage::File>(std::make_unique<MeteredFile>(std::move(*file), metrics_));
}

}  // namespace cairn::broker
