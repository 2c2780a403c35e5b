#pragma once

#include <cstdint>
#include <string>

namespace cairn::chaos {

// A small tmpfs mounted on a folder (a broker's data folder, before it
// starts), so that a fault test can fill its disk up and free it again.
// Needs root (mount(2)); the mount is detached on destruction, so the
// processes using it must be gone by then.
class SmallDisk {
 public:
  // Creates `path` if missing and mounts a tmpfs of `bytes` on it; throws
  // std::runtime_error (saying why) if it cannot.
  SmallDisk(std::string path, uint64_t bytes);
  ~SmallDisk();
  SmallDisk(const SmallDisk&) = delete;
  SmallDisk& operator=(const SmallDisk&) = delete;

  // Writes a filler file until the disk has no byte left.
  void fill();
  // Removes the filler.
  void free_up();

 private:
  std::string filler_path() const { return path_ + "/.test-filler"; }

  const std::string path_;
};

}  // namespace cairn::chaos
