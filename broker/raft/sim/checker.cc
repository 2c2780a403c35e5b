#include "broker/raft/sim/checker.h"

#include <fmt/format.h>

namespace cairn::raft::sim {

SafetyChecker::SafetyChecker(std::vector<const InMemoryLog*> logs, bool durable_at_acknowledgement)
    : logs_(std::move(logs)),
      last_role_(logs_.size(), Role::follower),
      lost_(logs_.size()),
      repairing_(logs_.size(), false),
      durable_at_acknowledgement_(durable_at_acknowledgement) {}

void SafetyChecker::report(std::string what) {
  if (!violation_) violation_ = std::move(what);
}

void SafetyChecker::on_append(int node, const Entry& entry, EntryBounds prev) {
  auto key = std::make_pair(entry.term.value, entry.first.value);
  auto it = seen_.find(key);
  if (it != seen_.end()) {
    const Seen& s = it->second;
    if (s.last != entry.last || s.type != entry.type || s.payload != entry.payload ||
        s.prev_last != prev.last || s.prev_term != prev.term) {
      report(fmt::format("log matching: n{} appended t{} [{}..{}] after {}@t{}, but another node "
                         "holds t{} [{}..{}] after {}@t{} with other content",
                         node + 1, entry.term, entry.first, entry.last, prev.last, prev.term, entry.term,
                         entry.first, s.last, s.prev_last, s.prev_term));
    }
    return;
  }
  // Entries of one term come from one leader, in order: they never overlap.
  auto next = seen_.lower_bound(key);
  if (next != seen_.end() && next->first.first == entry.term.value &&
      next->first.second <= entry.last.value) {
    report(fmt::format("log matching: n{} appended t{} [{}..{}] overlapping t{} entry at {}", node + 1,
                       entry.term, entry.first, entry.last, entry.term, next->first.second));
  }
  if (next != seen_.begin()) {
    auto before = std::prev(next);
    if (before->first.first == entry.term.value && before->second.last >= entry.first) {
      report(fmt::format("log matching: n{} appended t{} [{}..{}] overlapping t{} [{}..{}]", node + 1,
                         entry.term, entry.first, entry.last, entry.term, before->first.second,
                         before->second.last));
    }
  }
  seen_.emplace(key, Seen{entry.last, entry.type, entry.payload, prev.last, prev.term});
}

void SafetyChecker::on_truncate(int node, Offset from) {
  if (damaging_ == node) {
    damaging_.reset();
    const InMemoryLog& log = *logs_[node];
    for (Offset index = std::max(from, log.first_index()); index <= log.last_index();) {
      EntryBounds entry = *log.entry_bounds(index);
      lost_[node].insert({entry.term.value, entry.first.value});
      index = entry.last + 1;
    }
    return;
  }
  for (auto it = acked_.lower_bound(from.value); it != acked_.end(); ++it) {
    if (in_log(node, it->second.entry, false)) {
      report(fmt::format("acknowledged entry t{} [{}..{}] truncated from n{} (from {})",
                         it->second.entry.term, it->second.entry.first, it->second.entry.last, node + 1,
                         from));
    }
  }
  // An acknowledged entry straddling `from` cannot exist: from is an entry
  // boundary and acknowledged entries match every log that holds them.
}

void SafetyChecker::on_damage(int node) { damaging_ = node; }

void SafetyChecker::on_repairing(int node, bool repairing) {
  // A repair ends once the node holds, matching a leader, a commit point
  // past everything it lost: from then on it must really hold it.
  if (!repairing) lost_[node].clear();
  repairing_[node] = repairing;
}

void SafetyChecker::on_reset(int node, Offset base_index) {
  // Entries at or below the new base are committed and stay "held".
  on_truncate(node, base_index + 1);
}

void SafetyChecker::on_apply(int node, const Entry& entry) {
  auto [it, inserted] = applied_.emplace(entry.first.value, entry);
  if (!inserted && it->second != entry) {
    report(fmt::format("state machine safety: n{} applied t{} [{}..{}] '{}' where another node "
                       "applied t{} [{}..{}] '{}'",
                       node + 1, entry.term, entry.first, entry.last, entry.payload, it->second.term,
                       it->second.first, it->second.last, it->second.payload));
  }
}

void SafetyChecker::check_known_committed(int node, Offset commit_index) {
  for (const Entry& entry : logs_[static_cast<size_t>(node)]->entries()) {
    if (entry.last > commit_index) break;
    auto it = applied_.find(entry.first.value);
    if (it == applied_.end() || it->second != entry) {
      report(fmt::format("state machine safety: n{} started with t{} [{}..{}] as committed (up to {}), "
                         "which no node applied",
                         node + 1, entry.term, entry.first, entry.last, commit_index));
      return;
    }
  }
}

void SafetyChecker::on_role(int node, Role role, Term term) {
  bool was_leader = last_role_[node] == Role::leader;
  last_role_[node] = role;
  if (role != Role::leader) return;
  if (repairing_[node]) report(fmt::format("n{} leads term {} while repairing a damaged log", node + 1, term));
  auto [it, inserted] = leader_of_term_.emplace(term.value, node);
  if (!inserted && it->second != node) {
    report(fmt::format("election safety: n{} and n{} both lead term {}", it->second + 1, node + 1, term));
  }
  if (!was_leader) check_log_has_acked(node, term, "leader completeness");
}

void SafetyChecker::on_acknowledged(const Entry& entry, Term leader_term, std::span<const int> voters,
                                    size_t quorum) {
  size_t durable = 0;
  for (int voter : voters) durable += holds(voter, entry, true) ? 1 : 0;
  if (durable < quorum && durable_at_acknowledgement_) {
    report(fmt::format("entry t{} [{}..{}] acknowledged while durable on {} voters, quorum {}",
                       entry.term, entry.first, entry.last, durable, quorum));
  }
  auto [it, inserted] = acked_.emplace(entry.first.value, Acked{entry, leader_term, quorum});
  if (!inserted && it->second.entry != entry) {
    report(fmt::format("two different entries acknowledged at index {}", entry.first));
  }
}

void SafetyChecker::check_acked_durability() {
  if (!durable_at_acknowledgement_) return;
  for (const auto& [first, acked] : acked_) {
    size_t durable = 0;
    for (size_t node = 0; node < logs_.size(); ++node) durable += holds(int(node), acked.entry, true);
    if (durable < acked.quorum) {
      report(fmt::format("acknowledged entry t{} [{}..{}] now durable on {} nodes only, quorum {}",
                         acked.entry.term, acked.entry.first, acked.entry.last, durable, acked.quorum));
      return;
    }
  }
}

void SafetyChecker::check_log_has_acked(int node, Term before_term, const char* why) {
  for (const auto& [first, acked] : acked_) {
    if (acked.commit_term >= before_term) continue;
    if (!in_log(node, acked.entry, false)) {
      report(fmt::format("{}: n{} (term {}) lacks acknowledged entry t{} [{}..{}]", why, node + 1,
                         before_term, acked.entry.term, acked.entry.first, acked.entry.last));
      return;
    }
  }
}

bool SafetyChecker::holds(int node, const Entry& entry, bool durable_only) const {
  return lost_[node].contains({entry.term.value, entry.first.value}) || in_log(node, entry, durable_only);
}

bool SafetyChecker::in_log(int node, const Entry& entry, bool durable_only) const {
  const InMemoryLog& log = *logs_[node];
  if (entry.last < log.first_index()) return true;  // trimmed: retention keeps only committed
  if (durable_only && log.flushed_index() < entry.last) return false;
  auto bounds = log.entry_bounds(entry.first);
  return bounds && bounds->term == entry.term && bounds->first == entry.first;
}

}  // namespace cairn::raft::sim
