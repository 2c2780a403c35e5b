#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "broker/raft/types.h"
#include "proto/status.h"

namespace cairn::raft {

// Where one entry sits: its index range and term.
struct EntryBounds {
  Offset first;
  Offset last;
  Term term;
  bool operator==(const EntryBounds&) const = default;
};

// The replicated log of one group, as consensus sees it. The partition's
// segment store implements it in production; InMemoryLog in tests.
//
// Shape: entries [first_index(), last_index()], each a record batch over a
// contiguous index range. The log is empty when last_index() ==
// first_index() - 1. The entry just below first_index() is gone (trimmed by
// retention, or skipped by reset()), but its last index and term are
// remembered as the *base*: entry_bounds(first_index() - 1) returns
// {base, base, base_term}, so an AppendEntries whose prev_log_index is the
// base can still be checked. A fresh log has base index -1 and term 0.
//
// Durability: append() makes entries readable at once but durable only
// later; flushed_index() is the last index known durable and is always the
// last index of an entry. The implementation flushes on its own schedule
// (group commit) and tells the group's owner, who calls
// Consensus::on_log_flushed(). truncate_suffix() and reset() are durable
// when they return: a crash afterwards never brings the removed entries back.
//
// Invariants: first_index() - 1 <= flushed_index() <= last_index(); terms
// never decrease along the log; entries are contiguous.
//
// Calls come from the group's owner only (single-threaded); implementations
// must not call back into consensus from inside these methods. Operating
// errors (disk full, I/O) are returned, never thrown.
class Log {
 public:
  virtual ~Log() = default;

  virtual Offset first_index() const = 0;
  virtual Offset last_index() const = 0;
  virtual Offset flushed_index() const = 0;

  // The entry containing `index`, or the base for first_index() - 1, or
  // nullopt outside [first_index() - 1, last_index()].
  virtual std::optional<EntryBounds> entry_bounds(Offset index) const = 0;

  // Appends after last_index(): entries[0].first == last_index() + 1, each
  // entry follows the previous one, terms do not decrease.
  virtual Status append(std::vector<Entry> entries) = 0;

  // Removes every entry at or after `from`, which must be the first index of
  // an entry (or last_index() + 1). Lowers flushed_index() to below `from`.
  virtual Status truncate_suffix(Offset from) = 0;

  // Up to `max_entries` whole entries starting with the one that begins at
  // `from` (an entry's first index within the log), stopping before the
  // entry that would exceed `max_bytes` of payload, but always at least one.
  virtual Result<std::vector<Entry>> read(Offset from, int64_t max_bytes,
                                          int32_t max_entries) const = 0;

  // Drops the whole log and restarts it empty after base (index, term):
  // how a follower too far behind jumps to the leader's first index.
  virtual Status reset(Offset base_index, Term base_term) = 0;

  Term last_term() const { return entry_bounds(last_index())->term; }
  // The term of the entry containing `index`; nullopt outside the log.
  std::optional<Term> term_at(Offset index) const {
    auto bounds = entry_bounds(index);
    return bounds ? std::optional<Term>(bounds->term) : std::nullopt;
  }
};

// The last index of the latest entry at or below `upto` whose term is at
// most `max_term`, walking back one entry at a time for at most `max_steps`
// entries (then returning where it stopped, which is still an entry end at
// or below `upto`). Never goes below the base. Used for the fast back-off
// by term on both sides of a rejected AppendEntries.
Offset find_entry_end_at_or_below(const Log& log, Offset upto, Term max_term, int max_steps);

}  // namespace cairn::raft
