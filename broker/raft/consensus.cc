#include "broker/raft/consensus.h"

#include <algorithm>

#include "proto/assert.h"

// Roles, elections, timers and the side-effect helpers. Replication lives in
// consensus_replication.cc, membership changes in consensus_membership.cc.

namespace cairn::raft {

Consensus::Consensus(RaftOptions options, Log& log, DurableState& durable, Transport& transport,
                     const Clock& clock, ApplyFn apply)
    : options_(std::move(options)),
      log_(log),
      durable_(durable),
      transport_(transport),
      clock_(clock),
      apply_(std::move(apply)),
      random_(options_.random_seed) {
  CAIRN_ASSERT(options_.heartbeat_interval_ms >= 1);
  CAIRN_ASSERT(options_.election_timeout_min_ms > options_.heartbeat_interval_ms);
  CAIRN_ASSERT(options_.election_timeout_max_ms > options_.election_timeout_min_ms);
  CAIRN_ASSERT(options_.max_inflight_appends >= 1 && options_.max_entries_per_append >= 1);
}

Status Consensus::start() {
  HardState hard = durable_.hard_state();
  term_ = hard.term;
  voted_for_ = hard.voted_for;
  lost_end_ = hard.lost_end;
  repair_start_term_ = term_;
  // Entries of a term are appended only after that term is saved.
  CAIRN_ASSERT(term_ >= log_.last_term());
  memberships_ = durable_.memberships();
  // Memberships whose entries were lost with an unflushed tail are void; the
  // first one is committed and stays even if this node lost its copy.
  while (memberships_.size() > 1 && memberships_.back().index > log_.last_index()) {
    memberships_.pop_back();
  }
  if (memberships_.empty()) {
    Membership initial;
    initial.voters = options_.initial_voters;
    std::sort(initial.voters.begin(), initial.voters.end());
    memberships_.push_back({log_.first_index() - 1, std::move(initial)});
    if (!memberships_.back().membership.voters.empty()) save_memberships();
  }
  if (lost_end_ && membership().voters == std::vector<NodeId>{options_.self}) {
    // The only voter: no one holds what it lost, so no one can fill it in.
    lost_end_.reset();
    hard_state_dirty_ = true;
    persist_hard_state();
  }
  commit_index_ = log_.first_index() - 1;
  if (options_.known_committed) {
    commit_index_ = std::clamp(*options_.known_committed, commit_index_, log_.last_index());
  }
  applied_index_ = commit_index_;
  campaign_first_until_ms_ = now_ms() + 2 * options_.election_timeout_max_ms;
  reset_election_deadline();
  if (campaigns_first()) election_deadline_ms_ = now_ms();
  return failure_;
}

// Bounded in time: peers that never come up would be asked every
// heartbeat for good.
bool Consensus::campaigns_first() const {
  bool group_never_ran = term_ == Term(0) && log_.last_index() < log_.first_index();
  return options_.campaign_first && group_never_ran && membership().is_voter(options_.self) &&
         now_ms() < campaign_first_until_ms_;
}

const Progress* Consensus::progress(NodeId id) const {
  auto it = progress_.find(id);
  return it == progress_.end() ? nullptr : &it->second;
}

bool Consensus::heard_from_recently(NodeId id) const {
  const Progress* follower = progress(id);
  return follower && follower->last_heard_ms >= 0 &&
         now_ms() - follower->last_heard_ms < options_.election_timeout_min_ms;
}

Status Consensus::tick() {
  if (failed()) return failure_;
  apply_committed();
  if (role_ == Role::leader) {
    tick_leader();
  } else if (now_ms() >= election_deadline_ms_) {
    if (!may_elect()) {
      reset_election_deadline();  // learners, removed and repairing nodes never campaign
    } else if (options_.pre_vote) {
      become_pre_candidate();
    } else {
      start_election(false);
    }
  }
  return failure_;
}

// The next multiple of the heartbeat interval on the clock: every group of
// a node heartbeats in the same tick, so a transport that coalesces
// (RaftTransport) carries an idle broker's heartbeats to each peer in one
// frame per interval, and their answers in one back. Never later than an
// interval from now.
int64_t Consensus::next_heartbeat_ms(int64_t now) const {
  int64_t interval = options_.heartbeat_interval_ms;
  return (now / interval + 1) * interval;
}

int64_t Consensus::next_tick_ms() const {
  if (failed() || applied_index_ < commit_index_) return 0;
  if (role_ != Role::leader) return election_deadline_ms_;
  int64_t due = heartbeat_deadline_ms_;
  if (options_.check_quorum) due = std::min(due, quorum_check_deadline_ms_);
  if (transfer_target_) due = std::min(due, transfer_deadline_ms_);
  return due;
}

void Consensus::tick_leader() {
  int64_t now = now_ms();
  if (transfer_target_ && now >= transfer_deadline_ms_) transfer_target_.reset();
  if (options_.check_quorum && now >= quorum_check_deadline_ms_) {
    std::vector<NodeId> active{options_.self};
    for (auto& [id, progress] : progress_) {
      if (progress.recently_active) active.push_back(id);
      progress.recently_active = false;
    }
    if (!membership().is_quorum(active)) {
      become_follower(term_, std::nullopt);
      return;
    }
    quorum_check_deadline_ms_ = now + options_.election_timeout_min_ms;
  }
  if (now >= heartbeat_deadline_ms_) {
    broadcast_heartbeat();
    heartbeat_deadline_ms_ = next_heartbeat_ms(now);
  }
}

Status Consensus::handle(const Message& message) {
  if (failed()) return failure_;
  if (message_from(message) == options_.self) return failure_;
  std::visit(
      [this](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, VoteRequest>) handle_vote_request(m);
        if constexpr (std::is_same_v<T, VoteResponse>) handle_vote_response(m);
        if constexpr (std::is_same_v<T, AppendRequest>) handle_append_request(m);
        if constexpr (std::is_same_v<T, AppendResponse>) handle_append_response(m);
        if constexpr (std::is_same_v<T, JumpRequest>) handle_jump_request(m);
        if constexpr (std::is_same_v<T, TimeoutNow>) handle_timeout_now(m);
      },
      message);
  return failure_;
}

void Consensus::set_term(Term term) {
  CAIRN_ASSERT(term > term_);
  term_ = term;
  voted_for_.reset();
  hard_state_dirty_ = true;
}

void Consensus::reset_election_deadline() {
  // Modulo rather than a std distribution: the same seed gives the same
  // timeouts with every standard library (the simulator replays seeds).
  uint64_t span = options_.election_timeout_max_ms - options_.election_timeout_min_ms;
  election_deadline_ms_ = now_ms() + options_.election_timeout_min_ms + int64_t(random_() % span);
  // Until the group's first term, its intended first leader campaigns
  // again every heartbeat interval: peers that have not created the group
  // yet dropped its requests, and the others wait out a whole timeout.
  if (campaigns_first()) election_deadline_ms_ = now_ms() + options_.heartbeat_interval_ms;
}

void Consensus::become_follower(Term term, std::optional<NodeId> leader) {
  if (term > term_) set_term(term);
  role_ = Role::follower;
  leader_ = leader;
  progress_.clear();
  transfer_target_.reset();
  votes_granted_.clear();
  leader_match_index_ = Offset(-1);
  ack_pending_ = false;
  answered_leader_ms_.reset();
  reset_election_deadline();
}

void Consensus::become_pre_candidate() {
  role_ = Role::pre_candidate;
  leader_.reset();
  votes_granted_ = {options_.self};
  reset_election_deadline();
  if (membership().is_quorum(votes_granted_)) {
    start_election(false);
    return;
  }
  for (NodeId voter : membership().voters) {
    if (voter == options_.self) continue;
    send(voter, VoteRequest{term_ + 1, options_.self, log_.last_index(), log_.last_term(), true,
                            false});
  }
}

void Consensus::start_election(bool transfer) {
  set_term(term_ + 1);
  voted_for_ = options_.self;
  persist_hard_state();
  role_ = Role::candidate;
  leader_.reset();
  votes_granted_ = {options_.self};
  reset_election_deadline();
  if (membership().is_quorum(votes_granted_)) {
    become_leader();
    return;
  }
  for (NodeId voter : membership().voters) {
    if (voter == options_.self) continue;
    send(voter, VoteRequest{term_, options_.self, log_.last_index(), log_.last_term(), false,
                            transfer});
  }
}

void Consensus::become_leader() {
  CAIRN_ASSERT(role_ == Role::candidate && voted_for_ == options_.self);
  role_ = Role::leader;
  leader_ = options_.self;
  votes_granted_.clear();
  progress_.clear();
  sync_progress_with_membership();
  heartbeat_deadline_ms_ = next_heartbeat_ms(now_ms());
  quorum_check_deadline_ms_ = now_ms() + options_.election_timeout_min_ms;
  Offset index = log_.last_index() + 1;
  append_to_log({Entry{term_, index, index, EntryType::noop, {}}});
  replicate_to_all();
  maybe_commit();
}

bool Consensus::log_is_up_to_date(Offset last_index, Term last_term) const {
  auto at_least = [&](Offset index, Term term) { return last_term > term || (last_term == term && last_index >= index); };
  if (!at_least(log_.last_index(), log_.last_term())) return false;
  // A repairing node compares the candidate with the log it had before the
  // damage too: it ended at lost_end - 1, in a term no later than the one
  // the node was in when it found the loss (entries of a term are appended
  // only after the term is saved). A candidate at least that up to date
  // holds every committed entry the node lost (§5.4.3), so the vote is as
  // safe as an undamaged node's; one that is not gets none.
  return !lost_end_ || at_least(*lost_end_ - 1, repair_start_term_);
}

bool Consensus::in_leader_lease() const {
  if (!options_.check_quorum) return false;
  if (role_ == Role::leader) return true;
  return leader_.has_value() && now_ms() - last_leader_contact_ms_ < options_.election_timeout_min_ms;
}

void Consensus::handle_vote_request(const VoteRequest& request) {
  // A node that hears from a live leader ignores candidates (§4.2.3), unless
  // the leader itself asked for the election.
  if (request.term > term_ && in_leader_lease() && !request.transfer) return;
  if (request.pre_vote) {
    bool grant = request.term > term_ && log_is_up_to_date(request.last_index, request.last_term);
    send(request.from, VoteResponse{grant ? request.term : term_, options_.self, true, grant});
    return;
  }
  if (request.term < term_) {
    send(request.from, VoteResponse{term_, options_.self, false, false});
    return;
  }
  if (request.term > term_) become_follower(request.term, std::nullopt);
  bool grant = (!voted_for_ || *voted_for_ == request.from) && log_is_up_to_date(request.last_index, request.last_term);
  if (grant) {
    voted_for_ = request.from;
    hard_state_dirty_ = true;
    reset_election_deadline();
  }
  send(request.from, VoteResponse{term_, options_.self, false, grant});
}

void Consensus::handle_vote_response(const VoteResponse& response) {
  if (response.term > term_ && !(response.pre_vote && response.granted)) {
    become_follower(response.term, std::nullopt);
    return;
  }
  if (!response.granted) return;
  bool counts = response.pre_vote
                    ? role_ == Role::pre_candidate && response.term == term_ + 1
                    : role_ == Role::candidate && response.term == term_;
  if (!counts) return;
  if (std::find(votes_granted_.begin(), votes_granted_.end(), response.from) ==
      votes_granted_.end()) {
    votes_granted_.push_back(response.from);
  }
  if (!membership().is_quorum(votes_granted_)) return;
  if (response.pre_vote) {
    start_election(false);
  } else {
    become_leader();
  }
}

void Consensus::handle_timeout_now(const TimeoutNow& message) {
  if (message.term != term_ || role_ != Role::follower) return;
  if (!may_elect()) return;
  start_election(true);
}

Status Consensus::transfer_leadership(NodeId target) {
  if (failed()) return failure_;
  if (role_ != Role::leader) return error(ErrorCode::not_leader, "node {} is not the leader", options_.self);
  if (target == options_.self || !membership().is_voter(target)) {
    return error(ErrorCode::invalid_request, "node {} is not another voter", target);
  }
  transfer_target_ = target;
  transfer_deadline_ms_ = now_ms() + options_.election_timeout_max_ms;
  maybe_send_timeout_now();
  return {};
}

void Consensus::maybe_send_timeout_now() {
  if (!transfer_target_) return;
  const Progress* target = progress(*transfer_target_);
  if (target == nullptr || target->match_index < log_.last_index()) {
    if (target != nullptr) replicate_to(*transfer_target_, progress_[*transfer_target_]);
    return;
  }
  send(*transfer_target_, TimeoutNow{term_, options_.self});
}

void Consensus::send(NodeId to, Message message) {
  if (failed()) return;
  persist_hard_state();
  if (failed()) return;
  transport_.send(to, std::move(message));
}

void Consensus::persist_hard_state() {
  if (!hard_state_dirty_ || failed()) return;
  Status status = durable_.save_hard_state(HardState{term_, voted_for_, lost_end_});
  if (!status.ok()) return fail(std::move(status));
  hard_state_dirty_ = false;
}

void Consensus::append_to_log(std::vector<Entry> entries) {
  persist_hard_state();
  if (failed() || entries.empty()) return;
  for (const Entry& e : entries) {
    CAIRN_ASSERT(e.term <= term_);
    if (e.type == EntryType::membership) on_membership_appended(e);
  }
  if (failed()) return;
  Status status = log_.append(std::move(entries));
  if (!status.ok()) return fail(std::move(status));
}

void Consensus::truncate_log(Offset from) {
  CAIRN_ASSERT(from > commit_index_);
  Status status = log_.truncate_suffix(from);
  if (!status.ok()) return fail(std::move(status));
  on_log_truncated(from);
}

void Consensus::fail(Status status) {
  CAIRN_ASSERT(!status.ok());
  if (failed()) return;
  failure_ = std::move(status);
  role_ = Role::follower;
  leader_.reset();
  progress_.clear();
}

}  // namespace cairn::raft
