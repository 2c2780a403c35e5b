#pragma once

#include <functional>
#include <vector>

#include "broker/raft/log.h"

namespace cairn::raft {

// A Log held in memory, for unit tests and the simulator. It models the
// segment store's durability: append() leaves entries unflushed until
// flush_to() (the simulated fsync) covers them, and crash() drops whatever
// is not flushed. trim_prefix() models retention.
//
// Owns its entries (a vector; unbounded, callers bound it by what they
// append). Single-threaded. Every mutation checks the Log invariants and
// aborts on a broken one: a broken invariant here is a consensus bug.
class InMemoryLog final : public Log {
 public:
  // Observes every append, and every truncation or reset just before it
  // happens (the simulator's checkers).
  struct Observer {
    std::function<void(const Entry&)> on_append;
    std::function<void(Offset from)> on_truncate;
    std::function<void(Offset base_index)> on_reset;
  };

  InMemoryLog() = default;

  Offset first_index() const override { return base_index_ + 1; }
  Offset last_index() const override;
  Offset flushed_index() const override { return flushed_index_; }
  std::optional<EntryBounds> entry_bounds(Offset index) const override;
  Status append(std::vector<Entry> entries) override;
  Status truncate_suffix(Offset from) override;
  Result<std::vector<Entry>> read(Offset from, int64_t max_bytes,
                                  int32_t max_entries) const override;
  Status reset(Offset base_index, Term base_term) override;

  // Makes every entry ending at or before `index` durable (rounded down to
  // an entry end). Returns whether flushed_index() moved.
  bool flush_to(Offset index);
  // Loses every unflushed entry, as a power cut would.
  void crash();
  // Retention: drops whole entries ending at or before `index`; the last
  // one dropped becomes the base. Only flushed entries may be trimmed.
  void trim_prefix(Offset index);

  void set_observer(Observer observer) { observer_ = std::move(observer); }
  // The entries themselves, for checkers.
  const std::vector<Entry>& entries() const { return entries_; }
  Term base_term() const { return base_term_; }

 private:
  // Position in entries_ of the entry containing `index`, or -1.
  int64_t position_of(Offset index) const;
  void check_invariants() const;

  std::vector<Entry> entries_;
  Offset base_index_{-1};
  Term base_term_{0};
  Offset flushed_index_{-1};
  Observer observer_;
};

}  // namespace cairn::raft
