#include "storage/fault_injection_env.h"

#include <algorithm>
#include <cstring>
#include <thread>

namespace cairn::storage {

// A handle keeps its own length, as a file descriptor's owner does: zeros
// written ahead are in the file's data but not in the size of the handle
// that wrote them, while a handle opened later counts them.
class MemFileHandle final : public File {
 public:
  MemFileHandle(FaultInjectionEnv& env, std::shared_ptr<FaultInjectionEnv::MemFile> file)
      : env_(env), file_(std::move(file)) {
    std::lock_guard lock(file_->mutex);
    size_ = file_->data.size();
  }

  using File::append;

  Status append(std::span<const std::span<const std::byte>> parts) override {
    std::string data;
    for (const auto& part : parts) data.append(reinterpret_cast<const char*>(part.data()), part.size());
    size_t n = data.size();
    Status status = env_.before_append(n);
    std::lock_guard lock(file_->mutex);
    if (file_->data.size() < size_ + n) file_->data.resize(size_ + n);
    file_->data.replace(size_, n, data, 0, n);
    size_ += n;
    file_->appended_end = std::max(file_->appended_end, size_);
    return status;
  }

  Result<size_t> read(uint64_t offset, std::span<std::byte> dst) const override {
    std::lock_guard lock(file_->mutex);
    if (offset >= file_->data.size()) return size_t{0};
    size_t n = std::min<size_t>(dst.size(), file_->data.size() - offset);
    std::memcpy(dst.data(), file_->data.data() + offset, n);
    return n;
  }

  Status sync() override {
    CAIRN_RETURN_IF_ERROR(env_.before_sync());
    std::string image;
    {
      std::lock_guard lock(file_->mutex);
      image = file_->data;
    }
    env_.hold_if_asked();
    env_.delay_sync();
    env_.count_sync();
    std::lock_guard lock(file_->mutex);
    file_->durable = std::move(image);
    return {};
  }

  Status truncate(uint64_t size) override {
    std::lock_guard lock(file_->mutex);
    file_->data.resize(std::min<size_t>(size, file_->data.size()));
    size_ = file_->data.size();
    file_->appended_end = std::min(file_->appended_end, size_);
    return {};
  }

  Status zero_ahead(uint64_t until) override {
    std::lock_guard lock(file_->mutex);
    if (until > file_->data.size()) file_->data.resize(until, '\0');
    return {};
  }

  uint64_t size() const override {
    std::lock_guard lock(file_->mutex);
    return size_;
  }

 private:
  FaultInjectionEnv& env_;
  std::shared_ptr<FaultInjectionEnv::MemFile> file_;
  size_t size_;  // guarded by file_->mutex
};

namespace {

// Where `data` differs from `durable`: [first, last + 1) of the bytes that
// differ, where a byte past the end of either side counts as a zero (a cut
// or an extension of zeros changes nothing a reader sees). Empty (from ==
// to) when nothing differs.
std::pair<size_t, size_t> unsynced_span(const std::string& data, const std::string& durable) {
  auto at = [](const std::string& s, size_t i) { return i < s.size() ? s[i] : '\0'; };
  size_t end = std::max(data.size(), durable.size());
  size_t from = 0;
  while (from < end && at(data, from) == at(durable, from)) ++from;
  size_t to = end;
  while (to > from && at(data, to - 1) == at(durable, to - 1)) --to;
  return {from, to};
}

std::string parent_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

}  // namespace

Result<std::unique_ptr<File>> FaultInjectionEnv::open_file(const std::string& path, bool create) {
  std::lock_guard lock(mutex_);
  auto it = files_.find(path);
  if (it == files_.end()) {
    if (!create) return error(ErrorCode::io_error, "cannot open {}: no such file", path);
    if (!dirs_.count(parent_of(path))) {
      return error(ErrorCode::io_error, "cannot open {}: no such folder", path);
    }
    it = files_.emplace(path, std::make_shared<MemFile>()).first;
  }
  return std::unique_ptr<File>(new MemFileHandle(*this, it->second));
}

Status FaultInjectionEnv::create_dirs(const std::string& path) {
  std::lock_guard lock(mutex_);
  for (std::string p = path; !p.empty(); p = parent_of(p)) dirs_[p] = true;
  return {};
}

Result<std::vector<std::string>> FaultInjectionEnv::list_dir(const std::string& path) {
  std::lock_guard lock(mutex_);
  if (!dirs_.count(path)) return error(ErrorCode::io_error, "cannot list {}: no such folder", path);
  std::vector<std::string> names;
  auto add_child = [&](const std::string& p) {
    if (parent_of(p) == path) names.push_back(p.substr(path.size() + 1));
  };
  for (const auto& [p, file] : files_) add_child(p);
  for (const auto& [p, unused] : dirs_) add_child(p);
  return names;
}

bool FaultInjectionEnv::exists(const std::string& path) {
  std::lock_guard lock(mutex_);
  return files_.count(path) || dirs_.count(path);
}

bool FaultInjectionEnv::is_dir(const std::string& path) {
  std::lock_guard lock(mutex_);
  return dirs_.count(path) > 0;
}

Status FaultInjectionEnv::remove_file(const std::string& path) {
  std::lock_guard lock(mutex_);
  files_.erase(path);
  return {};
}

Status FaultInjectionEnv::rename_file(const std::string& from, const std::string& to) {
  std::lock_guard lock(mutex_);
  auto it = files_.find(from);
  if (it == files_.end()) return error(ErrorCode::io_error, "cannot rename {}: no such file", from);
  // Open handles share the MemFile: those on the old `to` keep its bytes.
  files_[to] = it->second;
  files_.erase(from);
  return {};
}

Status FaultInjectionEnv::remove_all(const std::string& path) {
  std::lock_guard lock(mutex_);
  auto under = [&](const std::string& p) { return p == path || p.starts_with(path + "/"); };
  std::erase_if(files_, [&](const auto& entry) { return under(entry.first); });
  std::erase_if(durable_files_, [&](const auto& entry) { return under(entry.first); });
  std::erase_if(dirs_, [&](const auto& entry) { return under(entry.first); });
  return {};
}

Status FaultInjectionEnv::sync_dir(const std::string& path) {
  CAIRN_RETURN_IF_ERROR(before_sync());
  std::lock_guard lock(mutex_);
  std::erase_if(durable_files_, [&](const auto& entry) { return parent_of(entry.first) == path; });
  for (const auto& [p, file] : files_) {
    if (parent_of(p) == path) durable_files_[p] = file;
  }
  return {};
}

void FaultInjectionEnv::crash(CrashMode mode, std::mt19937_64* rng) {
  std::lock_guard lock(mutex_);
  // The page cache survives a process crash: nothing is lost.
  if (mode == CrashMode::process) return;
  files_ = durable_files_;
  for (auto& [path, file] : files_) {
    std::lock_guard file_lock(file->mutex);
    std::string survivor = file->durable;
    // Unsynced writes may reach the disk in part: of the span where the
    // written data differs from the durable image (appends over zeros
    // written ahead or past its end; a cut not yet synced), a random prefix
    // lands, and the durable image shows past it.
    if (rng) {
      auto [from, to] = unsynced_span(file->data, survivor);
      size_t cut = from + (*rng)() % (to - from + 1);
      std::string landed = file->data.substr(0, cut);
      landed.resize(cut, '\0');  // past a cut the data's end: zeros, as it reads
      survivor = landed + survivor.substr(std::min(cut, survivor.size()));
    }
    file->data = survivor;
    file->durable = survivor;
    file->appended_end = std::min(file->appended_end, survivor.size());
  }
}

void FaultInjectionEnv::hold_next_sync() {
  std::lock_guard lock(mutex_);
  hold_ = Hold::armed;
}

void FaultInjectionEnv::wait_for_held_sync() {
  std::unique_lock lock(mutex_);
  held_changed_.wait(lock, [&] { return hold_ == Hold::holding; });
}

void FaultInjectionEnv::release_held_sync() {
  std::lock_guard lock(mutex_);
  hold_ = Hold::none;
  held_changed_.notify_all();
}

void FaultInjectionEnv::hold_if_asked() {
  std::unique_lock lock(mutex_);
  if (hold_ != Hold::armed) return;
  hold_ = Hold::holding;
  held_changed_.notify_all();
  held_changed_.wait(lock, [&] { return hold_ != Hold::holding; });
}

void FaultInjectionEnv::fail_next_syncs(int count) {
  std::lock_guard lock(mutex_);
  failing_syncs_ = count;
}

void FaultInjectionEnv::short_write_next_append() {
  std::lock_guard lock(mutex_);
  short_write_ = true;
}

void FaultInjectionEnv::set_disk_full(bool full) {
  std::lock_guard lock(mutex_);
  disk_full_ = full;
}

void FaultInjectionEnv::set_sync_delay(std::chrono::microseconds delay) {
  std::lock_guard lock(mutex_);
  sync_delay_ = delay;
}

void FaultInjectionEnv::delay_sync() {
  std::chrono::microseconds delay;
  {
    std::lock_guard lock(mutex_);
    delay = sync_delay_;
  }
  if (delay.count() > 0) std::this_thread::sleep_for(delay);
}

int64_t FaultInjectionEnv::sync_count() {
  std::lock_guard lock(mutex_);
  return syncs_;
}

void FaultInjectionEnv::count_sync() {
  std::lock_guard lock(mutex_);
  ++syncs_;
}

std::string* FaultInjectionEnv::contents(const std::string& path) {
  std::lock_guard lock(mutex_);
  auto it = files_.find(path);
  return it == files_.end() ? nullptr : &it->second->data;
}

bool FaultInjectionEnv::flip_byte(const std::string& path, uint64_t from_end) {
  std::shared_ptr<MemFile> file;
  {
    std::lock_guard lock(mutex_);
    auto it = files_.find(path);
    if (it == files_.end()) return false;
    file = it->second;
  }
  std::lock_guard lock(file->mutex);
  size_t end = std::min(file->appended_end, file->data.size());
  if (from_end >= end) return false;
  size_t at = end - 1 - from_end;
  file->data[at] = static_cast<char>(~file->data[at]);
  if (at < file->durable.size()) file->durable[at] = file->data[at];
  return true;
}

Status FaultInjectionEnv::before_append(size_t& bytes_to_write) {
  std::lock_guard lock(mutex_);
  if (disk_full_) {
    bytes_to_write = 0;
    return error(ErrorCode::io_error, "no space left on device (injected)");
  }
  if (short_write_) {
    short_write_ = false;
    bytes_to_write /= 2;
    return error(ErrorCode::io_error, "short write (injected)");
  }
  return {};
}

Status FaultInjectionEnv::before_sync() {
  std::lock_guard lock(mutex_);
  if (failing_syncs_ > 0) {
    --failing_syncs_;
    return error(ErrorCode::io_error, "sync failed (injected)");
  }
  return {};
}

}  // namespace cairn::storage
