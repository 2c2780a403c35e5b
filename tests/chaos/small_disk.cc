#include "small_disk.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

namespace cairn::chaos {

SmallDisk::SmallDisk(std::string path, uint64_t bytes) : path_(std::move(path)) {
  std::filesystem::create_directories(path_);
  std::string options = fmt::format("size={}", bytes);
  if (::mount("tmpfs", path_.c_str(), "tmpfs", 0, options.c_str()) != 0) {
    throw std::runtime_error(fmt::format("cannot mount a tmpfs on {} ({}): the full-disk scenario runs as root",
                                         path_, std::strerror(errno)));
  }
}

SmallDisk::~SmallDisk() { ::umount2(path_.c_str(), MNT_DETACH); }

void SmallDisk::fill() {
  int fd = ::open(filler_path().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(fmt::format("cannot create {}: {}", filler_path(), std::strerror(errno)));
  std::vector<char> chunk(1 << 20, 'f');
  // Smaller and smaller writes, down to single bytes, take the last of it.
  for (size_t size = chunk.size(); size > 0; size /= 2) {
    while (::write(fd, chunk.data(), size) == static_cast<ssize_t>(size)) {
    }
  }
  ::close(fd);
}

void SmallDisk::free_up() { std::filesystem::remove(filler_path()); }

}  // namespace cairn::chaos
