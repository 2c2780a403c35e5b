#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "proto/status.h"

namespace cairn::storage {

// The POSIX env keeps this much of a file's synced tail in the page cache
// for tailing readers and hands older synced bytes back to the kernel at
// each sync (docs/storage.md, "The page cache").
constexpr uint64_t kCachedTailBytes = 64ull << 20;

// A file the store appends to and reads from. Implementations never throw;
// every failure is a Status. Thread-safety: append, zero_ahead and truncate
// are called by one thread at a time (the partition's owner), and so is
// sync (its flusher), which may run beside them and covers the bytes written
// before it began; a truncate below what a sync may cover waits for it.
// read and size may run concurrently with all of them from any thread.
class File {
 public:
  virtual ~File() = default;
  // Appends the parts, in order, at the end (one gather write where the OS
  // has it). On failure some prefix of them may have been written.
  virtual Status append(std::span<const std::span<const std::byte>> parts) = 0;
  Status append(std::span<const std::byte> data) { return append({&data, 1}); }
  // Reads up to dst.size() bytes at `offset`; short only at end of file.
  virtual Result<size_t> read(uint64_t offset, std::span<std::byte> dst) const = 0;
  // Makes everything appended so far durable (fdatasync). The POSIX env
  // then drops the cached copies of synced bytes before the last
  // kCachedTailBytes.
  virtual Status sync() = 0;
  // Sets the file's length, dropping zeros written ahead past it too.
  virtual Status truncate(uint64_t size) = 0;
  // Writes zeros from the end of the appended bytes up to position `until`
  // without moving size(): later appends overwrite them. A sync of appends
  // into space whose zeros a sync already made durable changes no file
  // metadata, so fdatasync needs no filesystem journal commit
  // (docs/storage.md, "Zeroed space ahead"). Whoever opens the file next
  // finds the zeros in it (its size counts them): a reader of a log's tail
  // takes an all-zero tail for the end of its data. Called like append.
  virtual Status zero_ahead(uint64_t until) = 0;
  // The length of what was appended (zeros written ahead not counted).
  virtual uint64_t size() const = 0;
};

// Files and folders, behind an interface so tests can inject faults and
// simulate a crash that loses unsynced data (FaultInjectionEnv).
class Env {
 public:
  virtual ~Env() = default;
  // Opens a file for reading and appending, creating it when `create`. A
  // new file's name is durable after sync_dir of its folder.
  virtual Result<std::unique_ptr<File>> open_file(const std::string& path, bool create) = 0;
  // Creates the folder and its missing parents; durable when it returns.
  virtual Status create_dirs(const std::string& path) = 0;
  // Names (not paths) of the entries of a folder, unsorted.
  virtual Result<std::vector<std::string>> list_dir(const std::string& path) = 0;
  virtual bool exists(const std::string& path) = 0;
  virtual bool is_dir(const std::string& path) = 0;
  // Durable after sync_dir of the file's folder.
  virtual Status remove_file(const std::string& path) = 0;
  // Atomically replaces `to` (if present) with `from`, as rename(2): at every
  // instant `to` names either the old or the new file. Handles opened on the
  // old `to` keep reading its old bytes. Durable after sync_dir.
  virtual Status rename_file(const std::string& from, const std::string& to) = 0;
  // Removes a folder and everything under it; durable when it returns.
  virtual Status remove_all(const std::string& path) = 0;
  // Makes the creation and removal of entries in a folder durable.
  virtual Status sync_dir(const std::string& path) = 0;

  // The process-wide POSIX implementation.
  static Env& posix();
};

}  // namespace cairn::storage
