#pragma once

#include <memory>
#include <string>
#include <vector>

#include "storage/env.h"

namespace cairn::storage {

// A File that passes every call to another: the base of decorators, which
// override what they change (SlowSyncEnv's files, the broker's timed syncs).
class ForwardingFile : public File {
 public:
  explicit ForwardingFile(std::unique_ptr<File> base) : base_(std::move(base)) {}

  Status append(std::span<const std::span<const std::byte>> parts) override { return base_->append(parts); }
  Result<size_t> read(uint64_t offset, std::span<std::byte> dst) const override { return base_->read(offset, dst); }
  Status sync() override { return base_->sync(); }
  Status truncate(uint64_t size) override { return base_->truncate(size); }
  Status zero_ahead(uint64_t until) override { return base_->zero_ahead(until); }
  uint64_t size() const override { return base_->size(); }

 protected:
  File& base() { return *base_; }

 private:
  std::unique_ptr<File> base_;
};

// An Env that passes every call to another: the base of decorators, which
// override what they change (usually open_file, to wrap its files).
class ForwardingEnv : public Env {
 public:
  explicit ForwardingEnv(Env& base) : base_(base) {}

  Result<std::unique_ptr<File>> open_file(const std::string& path, bool create) override {
    return base_.open_file(path, create);
  }
  Status create_dirs(const std::string& path) override { return base_.create_dirs(path); }
  Result<std::vector<std::string>> list_dir(const std::string& path) override { return base_.list_dir(path); }
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
};

}  // namespace cairn::storage
