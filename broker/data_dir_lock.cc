#include "broker/data_dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace cairn::broker {
namespace {

Status prepare_folder(const std::string& data_dir) {
  std::error_code ec;
  if (std::filesystem::exists(data_dir, ec) && !std::filesystem::is_directory(data_dir, ec)) {
    return error(ErrorCode::invalid_config,
                 "--data-dir {} is a file, not a folder: pass a folder (it is created if missing)",
                 data_dir);
  }
  std::filesystem::create_directories(data_dir, ec);
  if (ec) {
    return error(ErrorCode::io_error, "cannot create --data-dir {}: {}; pass a folder cairnd can write",
                 data_dir, ec.message());
  }
  return {};
}

std::string holder_of(const std::string& path) {
  std::string pid;
  std::ifstream(path) >> pid;
  return pid.empty() ? "another process" : "process " + pid;
}

}  // namespace

Result<std::unique_ptr<DataDirLock>> DataDirLock::acquire(const std::string& data_dir) {
  CAIRN_RETURN_IF_ERROR(prepare_folder(data_dir));
  std::string path = data_dir + "/" + kFileName;
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return error(ErrorCode::io_error, "cannot open {}: {}; pass a --data-dir cairnd can write", path,
                 std::strerror(errno));
  }
  std::unique_ptr<DataDirLock> lock(new DataDirLock(fd));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int flock_errno = errno;
    if (flock_errno == EWOULDBLOCK) {
      return error(ErrorCode::invalid_config,
                   "--data-dir {} is in use by another broker ({} holds {}): stop it, or give this "
                   "broker its own --data-dir",
                   data_dir, holder_of(path), path);
    }
    return error(ErrorCode::io_error, "cannot lock {}: {}", path, std::strerror(flock_errno));
  }
  // Only the holder writes its pid, and only for the message above.
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    return error(ErrorCode::io_error, "cannot write {}: {}", path, std::strerror(errno));
  }
  return lock;
}

DataDirLock::~DataDirLock() { ::close(fd_); }

}  // namespace cairn::broker
