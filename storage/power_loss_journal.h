#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "storage/forwarding_env.h"

namespace cairn::storage {

// Power loss for a real process, for fault tests (cairnd --test-sync-journal).
//
// PowerLossJournalEnv records, as the process runs, what each file sync and
// folder sync made durable, in an append-only journal. The journal is
// written but never synced: it only has to outlive a SIGKILL, which keeps
// the page cache. Once the process is dead, cut_power() replays it and takes
// the files back to what a power loss at that instant may leave, as
// FaultInjectionEnv does in memory:
// - a file written through the Env keeps only the bytes its last sync
//   covered (what was appended before that sync began, then zeros up to
//   where that sync found zeros written ahead: appends over them are lost);
// - a file created through the Env is removed unless a later sync of its
//   folder named it.
//
// What the model leaves as it is: files the Env never created (RocksDB's
// index, which the log rebuilds; files the broker replaces with its own
// fsync and rename); a truncation or a removal not yet synced (a power loss
// could undo it, but bytes cannot be brought back); a rename, taken as
// durable at once (a power loss leaves the old or the new file; this keeps
// the new one).
class PowerLossJournalEnv final : public ForwardingEnv {
 public:
  // Appends to the journal at `journal_path`, created if missing: a process
  // restarted on the same data continues it.
  static Result<std::unique_ptr<PowerLossJournalEnv>> open(Env& base, const std::string& journal_path);
  ~PowerLossJournalEnv() override;

  Result<std::unique_ptr<File>> open_file(const std::string& path, bool create) override;
  Status remove_file(const std::string& path) override;
  Status rename_file(const std::string& from, const std::string& to) override;
  Status remove_all(const std::string& path) override;
  Status sync_dir(const std::string& path) override;

  // Adds one line (tab-separated fields) to the journal. Thread-safe.
  void record(const std::string& line);

 private:
  PowerLossJournalEnv(Env& base, int fd) : ForwardingEnv(base), fd_(fd) {}

  const int fd_;
  std::mutex mutex_;  // one line at a time
};

// What cut_power() took away.
struct PowerCut {
  int files_truncated = 0;
  uint64_t bytes_dropped = 0;  // unsynced bytes taken, zeros not counted
  int files_removed = 0;
};

// Takes every file the journal at `journal_path` knows back to what a power
// loss leaves (see PowerLossJournalEnv). The process that wrote it must be
// dead. An error if the journal cannot be read or a file cannot be changed.
Result<PowerCut> cut_power(const std::string& journal_path);

}  // namespace cairn::storage
