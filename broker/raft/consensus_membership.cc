#include <algorithm>

#include "proto/assert.h"
#include "broker/raft/consensus.h"

// Single-server membership changes. A membership entry takes effect on
// every node as soon as it is appended (not when committed), and reverts if
// truncated; the leader allows one uncommitted change at a time, and only
// after committing an entry of its own term, which keeps the majorities of
// consecutive memberships overlapping even across leader changes.

namespace cairn::raft {

Status Consensus::check_can_change_membership() const {
  if (failed()) return failure_;
  if (role_ != Role::leader) return error(ErrorCode::not_leader, "node {} is not the leader", options_.self);
  if (transfer_target_) return error(ErrorCode::not_leader, "leadership is moving to node {}", *transfer_target_);
  if (memberships_.size() > 1) {
    return error(ErrorCode::resource_exhausted, "a membership change is already in progress");
  }
  if (log_.term_at(commit_index_) != term_) {
    return error(ErrorCode::resource_exhausted, "the leader has not committed an entry of term {} yet", term_);
  }
  return {};
}

Status Consensus::add_learner(NodeId id) {
  CAIRN_RETURN_IF_ERROR(check_can_change_membership());
  if (membership().contains(id)) return error(ErrorCode::invalid_request, "node {} is already a member", id);
  Membership next = membership();
  next.learners.insert(std::upper_bound(next.learners.begin(), next.learners.end(), id), id);
  return propose_membership(std::move(next));
}

Status Consensus::promote_learner(NodeId id) {
  CAIRN_RETURN_IF_ERROR(check_can_change_membership());
  if (!membership().is_learner(id)) return error(ErrorCode::invalid_request, "node {} is not a learner", id);
  auto learner = progress_.find(id);
  if (learner == progress_.end() || !learner_caught_up(learner->second)) {
    return error(ErrorCode::resource_exhausted, "learner {} has not caught up (match {} < commit {})", id,
                 learner != progress_.end() ? learner->second.match_index : Offset(-1), commit_index_);
  }
  Membership next = membership();
  std::erase(next.learners, id);
  next.voters.insert(std::upper_bound(next.voters.begin(), next.voters.end(), id), id);
  return propose_membership(std::move(next));
}

bool Consensus::learner_caught_up(Progress& learner) {
  if (learner.match_index >= commit_index_) return true;
  int64_t now = now_ms();
  if (learner.round_started_ms >= 0 && learner.match_index >= learner.round_end) {
    if (now - learner.round_started_ms <= options_.election_timeout_min_ms) return true;
    learner.round_started_ms = -1;  // too slow: another round
  }
  if (learner.round_started_ms < 0) {
    learner.round_end = log_.last_index();
    learner.round_started_ms = now;
  }
  return false;
}

Status Consensus::remove_member(NodeId id) {
  CAIRN_RETURN_IF_ERROR(check_can_change_membership());
  if (!membership().contains(id)) return error(ErrorCode::invalid_request, "node {} is not a member", id);
  Membership next = membership();
  if (next.is_voter(id) && next.voters.size() == 1) {
    return error(ErrorCode::invalid_request, "cannot remove the last voter {}", id);
  }
  std::erase(next.voters, id);
  std::erase(next.learners, id);
  return propose_membership(std::move(next));
}

Status Consensus::propose_membership(Membership next) {
  Offset index = log_.last_index() + 1;
  append_to_log({Entry{term_, index, index, EntryType::membership, next.encode()}});
  if (failed()) return failure_;
  replicate_to_all();
  maybe_commit();
  return {};
}

// Called before the entry reaches the log, so that a crash can never leave
// a membership entry in the log that the durable list does not know.
void Consensus::on_membership_appended(const Entry& entry) {
  auto membership = Membership::decode(entry.payload);
  CAIRN_ASSERT(membership.has_value());
  if (entry.last <= memberships_.back().index) {
    // A restarted node lost its copy of its last committed membership (with
    // the unflushed tail) and receives it, or older ones, again.
    CAIRN_ASSERT(memberships_.size() == 1);
    CAIRN_ASSERT(entry.last < memberships_.back().index || memberships_.back().membership == *membership);
    return;
  }
  memberships_.push_back({entry.last, std::move(*membership)});
  save_memberships();
  if (role_ == Role::leader) sync_progress_with_membership();
}

void Consensus::on_log_truncated(Offset from) {
  size_t before = memberships_.size();
  while (memberships_.size() > 1 && memberships_.back().index >= from) memberships_.pop_back();
  CAIRN_ASSERT(memberships_.front().index < from);  // committed, never truncated
  if (memberships_.size() != before) save_memberships();
}

// After a jump, this node's own memberships can no longer be trusted: the
// log they came from diverged from the leader's (that is why it jumped),
// even at or below the new base. Only committed ones hold: its own last
// committed membership and the leader's. It keeps the newer of the two,
// which may lie past the base (its entry then arrives later and is
// recognised in on_membership_appended).
void Consensus::on_log_reset(const MembershipAt& leader_committed) {
  MembershipAt latest = memberships_.front();
  if (leader_committed.index > latest.index) latest = leader_committed;
  memberships_ = {std::move(latest)};
  save_memberships();
}

void Consensus::on_commit_advanced() {
  size_t before = memberships_.size();
  while (memberships_.size() > 1 && memberships_[1].index <= commit_index_) {
    memberships_.erase(memberships_.begin());
  }
  if (memberships_.size() != before) save_memberships();
  // A leader that removed itself leads until the removal commits, then
  // steps down without campaigning again.
  if (role_ == Role::leader && memberships_.size() == 1 && !membership().is_voter(options_.self)) {
    become_follower(term_, std::nullopt);
  }
}

void Consensus::sync_progress_with_membership() {
  const Membership& members = membership();
  std::erase_if(progress_, [&](const auto& item) { return !members.contains(item.first); });
  auto add = [&](NodeId id) {
    if (id == options_.self || progress_.contains(id)) return;
    Progress progress;
    progress.next_index = log_.last_index() + 1;
    progress_.emplace(id, progress);
  };
  for (NodeId id : members.voters) add(id);
  for (NodeId id : members.learners) add(id);
}

void Consensus::save_memberships() {
  if (failed()) return;
  Status status = durable_.save_memberships(memberships_);
  if (!status.ok()) fail(std::move(status));
}

}  // namespace cairn::raft
