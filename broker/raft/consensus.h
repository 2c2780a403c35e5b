#pragma once

#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "broker/raft/clock.h"
#include "broker/raft/durable_state.h"
#include "broker/raft/log.h"
#include "broker/raft/membership.h"
#include "broker/raft/messages.h"
#include "broker/raft/options.h"
#include "broker/raft/progress.h"
#include "broker/raft/transport.h"
#include "proto/status.h"

namespace cairn::raft {

// Receives committed entries in index order, once per run of a Consensus
// object (after a restart, from the log's first index again). A jump skips
// the entries up to its base: applied_index() moves there without calls (a
// partition's readers read the log itself). At most
// max_apply_entries_per_call entries per call into consensus. Must not call
// back into the Consensus that calls it.
using ApplyFn = std::function<void(const Entry& entry)>;

// One Raft group's state machine on one node: election (with pre-vote and
// check-quorum), replication (pipelined, batched, with fast back-off and
// jump-forward over trimmed prefixes), commitment (§5.4.2), leadership
// transfer, and single-server membership changes.
//
// Owns: the volatile Raft state (role, commit index, leader progress). It
// borrows the log, durable state, transport and clock, which must outlive
// it; it does not own a thread or a timer. Its owner drives it from one
// thread (or strand) at a time: tick() every tick_interval_ms, handle() for
// every received message, on_log_flushed() when the log's flushed index
// moves, and the client calls (propose, transfer, membership).
//
// Durability rule (the simulator checks it on every acknowledgement): a follower acknowledges entries only up to
// the log's flushed_index(); a leader counts its own copy only up to its
// flushed_index(); the hard state (term, vote) is saved before any message
// that depends on it and before entries of a new term are appended.
//
// Invariants: commit_index never decreases and never passes an entry that
// is not durable on a majority; committed entries are never truncated;
// applied <= commit; a leader commits by counting only entries of its own
// term. If the log or durable state fails, the group stops (failed() is
// true, every call returns the error): the owner must restart it.
//
// Limits: per-follower memory is O(max_inflight_appends); uncommitted
// proposals are bounded by max_uncommitted_indices; memberships pending in
// the log are at most one (one change at a time).
class Consensus {
 public:
  Consensus(RaftOptions options, Log& log, DurableState& durable, Transport& transport,
            const Clock& clock, ApplyFn apply);

  // Loads term, vote and membership; starts as a follower. Call once.
  [[nodiscard]] Status start();

  // Fires the timers that are due (election, heartbeat, check-quorum,
  // transfer abort) and applies committed entries left over.
  [[nodiscard]] Status tick();
  // The clock reading (RaftOptions' clock) from which tick() has work: a
  // timer's deadline, or 0 (at once) while committed entries wait to be
  // applied. Owners may skip the ticks before it: only handle(), propose()
  // and the other calls move it, and each returns first.
  int64_t next_tick_ms() const;
  // Handles one message from a peer.
  [[nodiscard]] Status handle(const Message& message);
  // The log's flushed_index() moved: acknowledge (follower) or count (leader).
  [[nodiscard]] Status on_log_flushed();

  // Leader only: appends one entry of `record_count` indices carrying
  // `payload`. Returns the entry's last index; it is committed once
  // commit_index() reaches it while the entry's term is still there
  // (watch the apply callback). Fails with not_leader elsewhere or while a
  // transfer is in progress, resource_exhausted past the backlog bound.
  [[nodiscard]] Result<Offset> propose(std::string payload, int64_t record_count = 1);
  // Leader only: several entries at once, all or nothing (one log append),
  // e.g. the batches of one produce request. Returns the last one's last index.
  struct Proposal {
    std::string payload;
    int64_t record_count = 1;
  };
  [[nodiscard]] Result<Offset> propose(std::vector<Proposal> proposals);
  // Leader only: hands leadership to `target`, a voter, once it has caught
  // up. Proposals fail until the transfer ends (at most an election timeout).
  [[nodiscard]] Status transfer_leadership(NodeId target);
  // Leader only, one change at a time, after the leader has committed an
  // entry of its term: adds `id` as a learner; promotes a learner that has
  // caught up (learner_caught_up) to voter; removes a voter or learner.
  [[nodiscard]] Status add_learner(NodeId id);
  [[nodiscard]] Status promote_learner(NodeId id);
  [[nodiscard]] Status remove_member(NodeId id);

  NodeId self() const { return options_.self; }
  Role role() const { return role_; }
  // A leadership transfer started and neither done nor abandoned yet.
  bool transferring() const { return transfer_target_.has_value(); }
  Term term() const { return term_; }
  std::optional<NodeId> leader() const { return leader_; }
  Offset commit_index() const { return commit_index_; }
  Offset applied_index() const { return applied_index_; }
  const Membership& membership() const { return memberships_.back().membership; }
  // A membership change is in the log but not committed yet.
  bool membership_change_pending() const { return memberships_.size() > 1; }
  bool failed() const { return !failure_.ok(); }
  // What stopped the group; ok while it runs.
  const Status& failure() const { return failure_; }
  // Repairing a log that disk damage shortened (HardState::lost_end): no
  // election, and votes only for candidates that hold all it lost, until a
  // leader has filled it in again.
  bool repairing() const { return lost_end_.has_value(); }
  // Leader only: the follower's progress, or nullptr.
  const Progress* progress(NodeId id) const;
  // Leader only: whether the follower answered within the last
  // election_timeout_min_ms, at any instant (Progress::recently_active
  // starts over empty at every check-quorum round).
  bool heard_from_recently(NodeId id) const;

 private:
  // Roles and elections (consensus.cc).
  void become_follower(Term term, std::optional<NodeId> leader);
  void become_pre_candidate();
  void become_candidate();
  void become_leader();
  void start_election(bool transfer);
  void handle_vote_request(const VoteRequest& request);
  void handle_vote_response(const VoteResponse& response);
  void handle_timeout_now(const TimeoutNow& message);
  bool log_is_up_to_date(Offset last_index, Term last_term) const;
  // A learner may become a voter: it holds everything committed, or it
  // finished a catch-up round (Raft thesis §4.2.1) within
  // election_timeout_min_ms. A round ends once the learner holds the log as
  // it was when the round began; one that fast shows that it keeps up, at
  // most that long's entries behind. Called again while it is not, it
  // starts the next round. (A learner slower than the voters under a
  // steady load never holds everything committed at one instant.)
  bool learner_caught_up(Progress& learner);
  // Campaigns: a voter not repairing its log.
  bool may_elect() const { return membership().is_voter(options_.self) && !repairing(); }
  bool in_leader_lease() const;
  // RaftOptions::campaign_first applies: the group never ran here.
  bool campaigns_first() const;
  void reset_election_deadline();
  void tick_leader();
  void set_term(Term term);

  // Replication (consensus_replication.cc).
  void handle_append_request(const AppendRequest& request);
  void handle_append_response(const AppendResponse& response);
  void handle_jump_request(const JumpRequest& request);
  bool accept_entries(const AppendRequest& request);
  void reject_append(const AppendRequest& request);
  enum class Ack { now, once_durable };
  void acknowledge_leader(Ack when);
  void maybe_end_repair(Offset durable);
  void send_append(NodeId to, Progress& progress, bool heartbeat);
  void replicate_to(NodeId to, Progress& progress);
  void replicate_to_all();
  void broadcast_heartbeat();
  void maybe_commit();
  void maybe_send_timeout_now();
  void apply_committed();
  void advance_commit(Offset index);

  // Membership (consensus_membership.cc).
  Status check_can_change_membership() const;
  Status propose_membership(Membership next);
  void on_membership_appended(const Entry& entry);
  void on_log_truncated(Offset from);
  void on_log_reset(const MembershipAt& leader_committed);
  void on_commit_advanced();
  void sync_progress_with_membership();
  void save_memberships();

  // Side effects, with the failure rule: the first failed log or durable
  // operation stops the group.
  void send(NodeId to, Message message);
  void persist_hard_state();
  void append_to_log(std::vector<Entry> entries);
  void truncate_log(Offset from);
  void fail(Status status);
  Offset self_durable_index() const { return log_.flushed_index(); }
  int64_t now_ms() const { return clock_.now_ms(); }
  int64_t next_heartbeat_ms(int64_t now) const;

  RaftOptions options_;
  Log& log_;
  DurableState& durable_;
  Transport& transport_;
  const Clock& clock_;
  ApplyFn apply_;
  std::mt19937_64 random_;

  Role role_ = Role::follower;
  Term term_{0};
  std::optional<NodeId> voted_for_;
  std::optional<Offset> lost_end_;
  Term repair_start_term_{0};  // the term this node started repairing in
  bool hard_state_dirty_ = false;
  std::optional<NodeId> leader_;
  Offset commit_index_{-1};
  Offset applied_index_{-1};
  // memberships_.front() is committed; later ones are in the log, not yet
  // committed. The back() is in effect. Never empty after start().
  std::vector<MembershipAt> memberships_;
  Status failure_;

  // Timers, as deadlines on clock_.
  int64_t election_deadline_ms_ = 0;
  int64_t heartbeat_deadline_ms_ = 0;
  int64_t quorum_check_deadline_ms_ = 0;
  int64_t last_leader_contact_ms_ = INT64_MIN / 2;
  int64_t campaign_first_until_ms_ = 0;  // RaftOptions::campaign_first applies until then

  // Candidate: voters that granted the (pre-)vote of this round.
  std::vector<NodeId> votes_granted_;

  // Follower: the highest index known to match the current leader's log;
  // an acknowledgement reports min(this, flushed_index()).
  Offset leader_match_index_{-1};
  bool ack_pending_ = false;
  std::optional<int64_t> answered_leader_ms_;  // when we last sent the leader an answer

  // Leader: per-member progress (not self), the transfer in progress.
  std::map<NodeId, Progress> progress_;
  std::optional<NodeId> transfer_target_;
  int64_t transfer_deadline_ms_ = 0;
};

}  // namespace cairn::raft
