#include "broker/raft/log.h"

#include <algorithm>

namespace cairn::raft {

Offset find_entry_end_at_or_below(const Log& log, Offset upto, Term max_term, int max_steps) {
  Offset base = log.first_index() - 1;
  Offset i = std::max(base, std::min(upto, log.last_index()));
  for (int steps = 0;; ++steps) {
    EntryBounds b = *log.entry_bounds(i);
    if (b.last > i) {  // `i` is inside an entry: its end is the previous entry's
      i = b.first - 1;
      b = *log.entry_bounds(i);
    }
    if (b.term <= max_term || i == base || steps >= max_steps) return i;
    i = b.first - 1;
  }
}

}  // namespace cairn::raft
