#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "storage/env.h"

namespace cairn::storage {

// How a simulated crash ends the process (FaultInjectionEnv::crash).
enum class CrashMode {
  // kill -9: the process dies, the kernel's page cache survives, so every
  // completed write is still there, synced or not.
  process,
  // The machine loses power: only synced file bytes and the folder entries
  // of synced folders survive.
  power_loss,
};

// An in-memory Env for crash and fault tests. Thread-safe.
//
// The model, as POSIX promises it and no more:
// - a file's durable image is its content when its last sync() began (a sync
//   covers the writes that completed before it, not those racing it);
// - creating, renaming or removing a file is durable only after sync_dir of
//   its folder; until then a power loss brings back the folder as it was at
//   its last sync_dir;
// - folders (create_dirs, remove_all) are durable at once, as Env promises.
// Faults are armed by the test and fire on the next matching call.
class FaultInjectionEnv final : public Env {
 public:
  Result<std::unique_ptr<File>> open_file(const std::string& path, bool create) override;
  Status create_dirs(const std::string& path) override;
  Result<std::vector<std::string>> list_dir(const std::string& path) override;
  bool exists(const std::string& path) override;
  bool is_dir(const std::string& path) override;
  Status remove_file(const std::string& path) override;
  Status rename_file(const std::string& from, const std::string& to) override;
  Status remove_all(const std::string& path) override;
  Status sync_dir(const std::string& path) override;

  // Simulates a crash. A power loss reverts every folder to its durable
  // entries and every file to its durable image plus, when `rng` is given, a
  // random prefix of what was written after it (a torn write); a process
  // crash loses nothing. Either way zeros written ahead of a file's end stay
  // in it, as they do on a disk. Files must not be in use (destroy the store
  // first).
  void crash(CrashMode mode, std::mt19937_64* rng = nullptr);

  // Holds the next file sync after it has taken its durable image and before
  // it returns, until release_held_sync(): a test can append, roll and
  // flush around a group commit in flight. wait_for_held_sync() returns once
  // a sync is held.
  void hold_next_sync();
  void wait_for_held_sync();
  void release_held_sync();

  // From now on each file sync takes `delay` after taking its image, as a
  // disk's does: group-commit tests then do not hang on the scheduler.
  void set_sync_delay(std::chrono::microseconds delay);

  // The next `count` syncs fail with io_error (and make nothing durable).
  void fail_next_syncs(int count);
  // The next append writes only half its bytes, then fails with io_error.
  void short_write_next_append();
  // While set, appends fail with io_error ("no space left").
  void set_disk_full(bool full);

  // How many file syncs succeeded so far (group-commit tests count them).
  int64_t sync_count();

  // Direct access to a file's bytes, for corruption tests. Null if absent.
  std::string* contents(const std::string& path);
  // Flips the bits of the byte `from_end` bytes before the end of what was
  // appended to the file (zeros written ahead do not count), in the written
  // and durable copies alike (damage on the disk), safely while others read
  // it. False if there is no such byte.
  bool flip_byte(const std::string& path, uint64_t from_end);

  struct MemFile {
    std::mutex mutex;
    std::string data;     // as on the disk: zeros written ahead included
    std::string durable;  // data as of the last sync
    size_t appended_end = 0;  // where the appended bytes end, for flip_byte
  };

 private:
  friend class MemFileHandle;
  Status before_append(size_t& bytes_to_write);
  Status before_sync();
  void count_sync();
  void hold_if_asked();
  void delay_sync();

  std::mutex mutex_;
  std::condition_variable held_changed_;
  std::map<std::string, std::shared_ptr<MemFile>> files_;
  // The folder entries as of each folder's last sync_dir: what a power loss
  // leaves. Removed files stay alive here until then.
  std::map<std::string, std::shared_ptr<MemFile>> durable_files_;
  std::map<std::string, bool> dirs_;
  int failing_syncs_ = 0;
  int64_t syncs_ = 0;
  std::chrono::microseconds sync_delay_{0};
  bool short_write_ = false;
  bool disk_full_ = false;
  enum class Hold { none, armed, holding } hold_ = Hold::none;
};

}  // namespace cairn::storage
