#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "storage/env.h"

namespace cairn::storage {

// An in-memory Env for crash and fault tests. Each file keeps what was
// written and, separately, what was last synced; crash() throws away what a
// power loss could lose. Thread-safe.
//
// The model: a file's durable image is its content at the last sync();
// creating and removing files and folders is durable at once (a simplification:
// the store syncs folders anyway). Faults are armed by the test and fire on
// the next matching call.
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

  // Simulates a power loss: every file reverts to its durable image plus,
  // when `rng` is given, a random prefix of what was appended after it (a
  // torn write). Files must not be in use (close the store first).
  void crash(std::mt19937_64* rng = nullptr);

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

  struct MemFile {
    std::mutex mutex;
    std::string data;
    std::string durable;
  };

 private:
  friend class MemFileHandle;
  Status before_append(size_t& bytes_to_write);
  Status before_sync();
  void count_sync();

  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<MemFile>> files_;
  std::map<std::string, bool> dirs_;
  int failing_syncs_ = 0;
  int64_t syncs_ = 0;
  bool short_write_ = false;
  bool disk_full_ = false;
};

}  // namespace cairn::storage
