#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "broker/raft/in_memory_log.h"
#include "broker/raft/types.h"

namespace cairn::raft::sim {

// The safety properties of Raft, checked while the simulator runs:
//   - election safety: at most one leader per term;
//   - log matching: two entries with the same term and index are the same
//     entry with the same predecessor (hence the same prefix), and entries
//     of one term never overlap unless identical;
//   - leader completeness: a new leader holds every entry acknowledged as
//     committed in an earlier term;
//   - state machine safety: no two nodes apply different entries at an index,
//     and what a node starts with as known committed was applied so;
//   - acknowledged durability: an entry acknowledged to a client is durable
//     on a majority of the voters when acknowledged, stays durable on that
//     many nodes through crashes, and is never truncated from any node;
//     disk damage may take it from a node (before or after the
//     acknowledgement), which then counts as holding it only while it
//     repairs (it votes as if it had it) and never leads.
// Every hook runs in O(log n) but check_acked_durability, which is linear in
// the acknowledged entries and runs after crashes and at the end.
//
// Owns the registry of every entry ever seen (unbounded: one record per
// entry of the run). Single-threaded. The first violation is kept; later
// ones are ignored.
class SafetyChecker {
 public:
  // `logs[i]` is node i's log; they must outlive the checker. Without
  // `durable_at_acknowledgement`, durability is not checked (neither at the
  // acknowledgement nor after crashes), only its consequences: an
  // acknowledged entry truncated, missing from a leader or applied
  // differently. For runs that break the durability rule on purpose.
  explicit SafetyChecker(std::vector<const InMemoryLog*> logs, bool durable_at_acknowledgement = true);

  // Node `node` appended `entry`; `prev` is the entry (or base) before it.
  void on_append(int node, const Entry& entry, EntryBounds prev);
  // Node `node` is about to drop its entries at or after `from`.
  void on_truncate(int node, Offset from);
  // Node `node` is about to drop its whole log and restart it after base.
  void on_reset(int node, Offset base_index);
  // Node `node`'s disk is about to lose entries, durable ones too (the node
  // is down; it restarts repairing): its next truncation is that loss.
  void on_damage(int node);
  // Whether node `node` has saved that it repairs (HardState::lost_end).
  void on_repairing(int node, bool repairing);
  void on_apply(int node, const Entry& entry);
  // Node `node` started with entries up to `commit_index` taken as
  // committed (RaftOptions::known_committed): each is one some node applied.
  void check_known_committed(int node, Offset commit_index);
  // Called after every event for each live node.
  void on_role(int node, Role role, Term term);
  // A client heard that `entry` committed; `quorum` is the leader's quorum
  // size and `voters` its voters (node indices) at that moment.
  void on_acknowledged(const Entry& entry, Term leader_term, std::span<const int> voters,
                       size_t quorum);
  // Every acknowledged entry is still durable on as many nodes as a quorum.
  void check_acked_durability();
  // Every acknowledged entry is in node's log (or trimmed below its base).
  void check_log_has_acked(int node, Term before_term, const char* why);

  const std::optional<std::string>& violation() const { return violation_; }
  int64_t acknowledged_count() const { return int64_t(acked_.size()); }

 private:
  struct Acked {
    Entry entry;
    Term commit_term;
    size_t quorum;
  };
  struct Seen {
    Offset last;
    EntryType type;
    std::string payload;
    Offset prev_last;
    Term prev_term;
  };
  // Whether node holds `entry` durably (or trimmed it as committed), or lost
  // it to damage and repairs.
  bool holds(int node, const Entry& entry, bool durable_only) const;
  // Whether node's log holds `entry` (or trimmed it as committed).
  bool in_log(int node, const Entry& entry, bool durable_only) const;
  void report(std::string what);

  std::vector<const InMemoryLog*> logs_;
  std::map<std::pair<int64_t, int64_t>, Seen> seen_;  // (term, first) -> entry
  std::map<int64_t, Entry> applied_;                  // first index -> entry
  std::map<int64_t, int> leader_of_term_;
  std::map<int64_t, Acked> acked_;                    // first index -> entry
  std::vector<Role> last_role_;
  // Per node, while it repairs: the entries (term, first index) its damaged
  // disk lost.
  std::vector<std::set<std::pair<int64_t, int64_t>>> lost_;
  std::vector<bool> repairing_;
  std::optional<int> damaging_;  // the node whose disk on_truncate is cutting
  bool durable_at_acknowledgement_;
  std::optional<std::string> violation_;
};

}  // namespace cairn::raft::sim
