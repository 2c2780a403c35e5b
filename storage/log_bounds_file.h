#pragma once

#include <optional>
#include <string>

#include "proto/status.h"
#include "proto/strong_int.h"
#include "storage/env.h"

namespace cairn::storage {

// The bounds of a partition that its segment files cannot tell, kept in a
// small file beside them (`bounds`) so that the RocksDB index stays what it
// claims to be: rebuildable from the segments.
//   log_start      where DeleteRecords moved the start inside a segment
//                  (retention moves it only to a segment's base)
//   compacted_end  below it compaction may have left offset gaps, and the
//                  log is never truncated
//   restart_term   set by PartitionLog::reset: the log restarted empty at
//                  log_start, after an entry (log_start - 1) of this term
//                  that it never held; every segment with a lower base is
//                  from before the restart and is deleted (recovery
//                  finishes a reset a crash interrupted). Cleared by the
//                  next write, which only happens once the reset is done.
// Written whole, synced and renamed into place (then the folder synced), so
// a crash leaves the old file or the new one, never a mix.
struct LogBounds {
  Offset log_start;
  Offset compacted_end;
  std::optional<Term> restart_term;
  bool operator==(const LogBounds&) const = default;
};

inline constexpr char kLogBoundsFileName[] = "bounds";

// The bounds kept in `dir`, none if the file does not exist; a file that is
// there but unreadable is an error naming it.
Result<std::optional<LogBounds>> read_log_bounds(Env& env, const std::string& dir);
Status write_log_bounds(Env& env, const std::string& dir, const LogBounds& bounds);

}  // namespace cairn::storage
