#pragma once

#include <memory>
#include <string>

#include "proto/status.h"

namespace cairn::broker {

// Exclusive use of a data folder by one broker, as Kafka's `.lock`: an
// flock(2) on <data_dir>/.lock held for as long as this object lives
// (cairnd: the whole process). The kernel drops it when the process dies, so
// a crashed broker never leaves a stale lock behind. The file also names the
// holder's pid, for the message a second broker prints.
//
// Taken before anything under the folder is opened: a second broker must not
// touch segments or the index of a live one.
class DataDirLock {
 public:
  // Creates the folder if needed. Fails with a message saying what to fix:
  // the folder is in use (by which pid), is not a folder, or is not writable.
  static Result<std::unique_ptr<DataDirLock>> acquire(const std::string& data_dir);
  ~DataDirLock();
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;

  static constexpr const char* kFileName = ".lock";

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  const int fd_;
};

}  // namespace cairn::broker
