#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <algorithm>
#include <climits>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "storage/env.h"

namespace cairn::storage {
namespace {

Status io_error(std::string_view what, const std::string& path, int err) {
  return error(ErrorCode::io_error, "{} {}: {}", what, path, std::strerror(err));
}

// Appends with pwrite at a tracked size so that concurrent preads never need
// a shared file position.
class PosixFile final : public File {
 public:
  using File::append;

  PosixFile(int fd, std::string path, uint64_t size)
      : fd_(fd), path_(std::move(path)), size_(size), zeroed_end_(size) {}
  ~PosixFile() override { ::close(fd_); }

  Status append(std::span<const std::span<const std::byte>> parts) override {
    std::vector<iovec> iov;
    iov.reserve(parts.size());
    for (const auto& part : parts) {
      if (!part.empty()) iov.push_back({const_cast<std::byte*>(part.data()), part.size()});
    }
    uint64_t at = size_.load(std::memory_order_relaxed);
    iovec* next = iov.data();
    size_t count = iov.size();
    while (count > 0) {
      int chunk = static_cast<int>(std::min<size_t>(count, IOV_MAX));
      ssize_t n = ::pwritev(fd_, next, chunk, static_cast<off_t>(at));
      if (n < 0) {
        if (errno == EINTR) continue;
        return io_error("cannot write", path_, errno);
      }
      at += static_cast<uint64_t>(n);
      size_.store(at, std::memory_order_release);
      // Skip what was written; a short write resumes mid-part.
      auto written = static_cast<size_t>(n);
      while (count > 0 && written >= next->iov_len) {
        written -= next->iov_len;
        ++next;
        --count;
      }
      if (count > 0) {
        next->iov_base = static_cast<char*>(next->iov_base) + written;
        next->iov_len -= written;
      }
    }
    return {};
  }

  Result<size_t> read(uint64_t offset, std::span<std::byte> dst) const override {
    size_t done = 0;
    while (done < dst.size()) {
      ssize_t n = ::pread(fd_, dst.data() + done, dst.size() - done,
                          static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return io_error("cannot read", path_, errno);
      }
      if (n == 0) break;
      done += static_cast<size_t>(n);
    }
    return done;
  }

  Status sync() override {
    uint64_t synced = size_.load(std::memory_order_acquire);
    if (::fdatasync(fd_) != 0) return io_error("cannot sync", path_, errno);
    drop_cached_pages_before(synced);
    return {};
  }

  Status truncate(uint64_t size) override {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
      return io_error("cannot truncate", path_, errno);
    }
    size_.store(size, std::memory_order_release);
    zeroed_end_ = size;
    if (size < dropped_until_.load(std::memory_order_relaxed)) {
      dropped_until_.store(size, std::memory_order_relaxed);
    }
    return {};
  }

  Status zero_ahead(uint64_t until) override {
    static constexpr std::array<std::byte, 64 * 1024> kZeros{};
    uint64_t at = std::max(zeroed_end_, size_.load(std::memory_order_relaxed));
    while (at < until) {
      size_t chunk = static_cast<size_t>(std::min<uint64_t>(until - at, kZeros.size()));
      ssize_t n = ::pwrite(fd_, kZeros.data(), chunk, static_cast<off_t>(at));
      if (n < 0) {
        if (errno == EINTR) continue;
        return io_error("cannot write zeros ahead in", path_, errno);
      }
      at += static_cast<uint64_t>(n);
      zeroed_end_ = at;
    }
    return {};
  }

  uint64_t size() const override { return size_.load(std::memory_order_acquire); }

 private:
  // Hands the page cache's copies of synced bytes more than
  // kCachedTailBytes behind `synced` back to the kernel, so that appends
  // reuse those pages instead of growing the cache (docs/storage.md, "The
  // page cache"). Tailing readers still find their bytes cached. The pages
  // are clean once synced: this drops cache, never data.
  void drop_cached_pages_before(uint64_t synced) {
    if (synced < kCachedTailBytes) return;
    uint64_t until = (synced - kCachedTailBytes) & ~uint64_t{kPageBytes - 1};
    uint64_t from = dropped_until_.load(std::memory_order_relaxed);
    if (until <= from) return;
    ::posix_fadvise(fd_, static_cast<off_t>(from), static_cast<off_t>(until - from), POSIX_FADV_DONTNEED);
    dropped_until_.store(until, std::memory_order_relaxed);
  }

  static constexpr uint64_t kPageBytes = 4096;

  int fd_;
  std::string path_;
  std::atomic<uint64_t> size_;
  uint64_t zeroed_end_;  // zeros written up to here (guarded like append)
  // Moved by sync, and back by a truncate below it (which comes only with
  // no sync running); a roll's cut of zeros past size_ may run beside a sync.
  std::atomic<uint64_t> dropped_until_{0};
};

class PosixEnv final : public Env {
 public:
  Result<std::unique_ptr<File>> open_file(const std::string& path, bool create) override {
    int flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0);
    int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) return io_error("cannot open", path, errno);
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      return io_error("cannot stat", path, err);
    }
    return std::unique_ptr<File>(new PosixFile(fd, path, static_cast<uint64_t>(st.st_size)));
  }

  Status create_dirs(const std::string& path) override {
    // The folders this call creates, outermost last: each one's entry in
    // its parent must be synced for the folder to survive a power loss.
    std::vector<std::filesystem::path> created;
    for (std::filesystem::path p(path); !p.empty() && !std::filesystem::exists(p);
         p = p.parent_path()) {
      created.push_back(p);
      if (p == p.parent_path()) break;
    }
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) return error(ErrorCode::io_error, "cannot create folder {}: {}", path, ec.message());
    for (const auto& dir : created) {
      std::filesystem::path parent = dir.parent_path();
      CAIRN_RETURN_IF_ERROR(sync_dir(parent.empty() ? "." : parent.string()));
    }
    return {};
  }

  Result<std::vector<std::string>> list_dir(const std::string& path) override {
    std::error_code ec;
    std::vector<std::string> names;
    for (auto it = std::filesystem::directory_iterator(path, ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
      names.push_back(it->path().filename().string());
    }
    if (ec) return error(ErrorCode::io_error, "cannot list {}: {}", path, ec.message());
    return names;
  }

  bool exists(const std::string& path) override { return std::filesystem::exists(path); }
  bool is_dir(const std::string& path) override { return std::filesystem::is_directory(path); }

  Status remove_file(const std::string& path) override {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return io_error("cannot remove", path, errno);
    return {};
  }

  Status rename_file(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return io_error("cannot rename", from, errno);
    return {};
  }

  Status remove_all(const std::string& path) override {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    if (ec) return error(ErrorCode::io_error, "cannot remove {}: {}", path, ec.message());
    std::filesystem::path parent = std::filesystem::path(path).parent_path();
    return sync_dir(parent.empty() ? "." : parent.string());
  }

  Status sync_dir(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return io_error("cannot open folder", path, errno);
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return io_error("cannot sync folder", path, err);
    return {};
  }
};

}  // namespace

Env& Env::posix() {
  static PosixEnv env;
  return env;
}

}  // namespace cairn::storage
