#include <algorithm>

#include "proto/assert.h"
#include "broker/raft/consensus.h"

// Log replication: the follower's side of AppendEntries and jumps, the
// leader's flow control, commitment and apply.

namespace cairn::raft {

namespace {

Offset request_last_index(const AppendRequest& request) {
  return request.entries.empty() ? request.prev_index : request.entries.back().last;
}

}  // namespace

void Consensus::handle_append_request(const AppendRequest& request) {
  if (request.term < term_) {
    send(request.from, AppendResponse{term_, options_.self, false, Offset(-1), Offset(-1),
                                      request.prev_index, Offset(-1), Term(0), false});
    return;
  }
  CAIRN_ASSERT(request.term > term_ || role_ != Role::leader);  // one leader per term
  if (request.term > term_ || role_ != Role::follower || leader_ != request.from) {
    become_follower(request.term, request.from);
  }
  last_leader_contact_ms_ = now_ms();
  reset_election_deadline();
  if (!accept_entries(request)) {
    if (!failed()) reject_append(request);
    return;
  }
  advance_commit(std::min(request.commit_index, leader_match_index_));
  acknowledge_leader(request.entries.empty() ? Ack::now : Ack::once_durable);
}

// Checks prev and appends what is new, truncating a conflicting suffix.
// Returns false if the logs do not agree at prev.
bool Consensus::accept_entries(const AppendRequest& request) {
  Offset base = log_.first_index() - 1;
  Offset prev = request.prev_index;
  Term prev_term = request.prev_term;
  auto begin = request.entries.begin();
  if (prev < base) {
    // Our prefix up to base is committed, hence equal to the leader's: skip
    // the entries it covers.
    begin = std::find_if(begin, request.entries.end(), [&](const Entry& e) { return e.last > base; });
    CAIRN_ASSERT(begin == request.entries.end() || begin->first == base + 1);
    prev = base;
    prev_term = *log_.term_at(base);
  }
  auto own_prev_term = log_.term_at(prev);
  if (!own_prev_term || *own_prev_term != prev_term) return false;
  CAIRN_ASSERT(log_.entry_bounds(prev)->last == prev);  // same term, same entry
  for (auto it = begin; it != request.entries.end(); ++it) {
    if (it->first <= log_.last_index()) {
      EntryBounds own = *log_.entry_bounds(it->first);
      if (own.term == it->term) {
        CAIRN_ASSERT(own.first == it->first && own.last == it->last);
        continue;
      }
      truncate_log(it->first);
    }
    append_to_log(std::vector<Entry>(it, request.entries.end()));
    break;
  }
  if (failed()) return false;
  leader_match_index_ = std::max(leader_match_index_, std::max(request_last_index(request), base));
  return true;
}

void Consensus::reject_append(const AppendRequest& request) {
  Offset hint = find_entry_end_at_or_below(log_, request.prev_index, request.prev_term,
                                           options_.max_backoff_steps);
  send(request.from, AppendResponse{term_, options_.self, false, Offset(-1), Offset(-1),
                                    request.prev_index, hint, *log_.term_at(hint), repairing()});
}

// Tells the leader how far our log matches its log, and durably so. An
// acknowledgement never covers an entry that is not flushed: if the flush
// is behind, another one follows from on_log_flushed().
//
// Ack::once_durable (an append that carried entries) sends nothing while
// the flush is behind, if the leader heard from us within a heartbeat
// interval: it counts only durable entries, and one answer per append
// instead of two spares a message each way through both brokers' threads.
// Otherwise it is answered at once whatever the flush, as heartbeats are
// (Ack::now): the leader's check-quorum and its check that a pipeline makes
// progress count on an answer every interval while a slow fsync runs, or
// while a topic flushes only every flush.ms; and under load a leader's
// heartbeats and probes carry entries too.
void Consensus::acknowledge_leader(Ack when) {
  if (failed()) return;  // applying what the leader committed may have failed the log
  CAIRN_ASSERT(leader_.has_value());
  Offset durable = std::min(leader_match_index_, log_.flushed_index());
  maybe_end_repair(durable);
  ack_pending_ = durable < leader_match_index_;
  int64_t now = now_ms();
  bool answered_lately = answered_leader_ms_ && now - *answered_leader_ms_ < options_.heartbeat_interval_ms;
  if (ack_pending_ && when == Ack::once_durable && answered_lately) return;
  send(*leader_, AppendResponse{term_, options_.self, true, durable, leader_match_index_,
                                Offset(-1), Offset(-1), Term(0), false});
  answered_leader_ms_ = now;
}

// A repairing node is whole again once it durably holds, matching the
// leader, all it had lost: a leader of the term it acknowledged them in may
// have counted them, and may yet. A leader of a later term than the one the
// node restarted in never heard those acknowledgements, so a commit point of
// its own term is enough too: every entry committed before lies below it
// (§5.4), every one after is counted from true ones.
void Consensus::maybe_end_repair(Offset durable) {
  if (!lost_end_) return;
  bool refilled = durable >= *lost_end_ - 1;
  bool past_commit = term_ > repair_start_term_ && durable >= commit_index_ &&
                     log_.term_at(commit_index_) == term_;
  if (!refilled && !past_commit) return;
  lost_end_.reset();
  hard_state_dirty_ = true;  // saved before the acknowledgement is sent
}

void Consensus::handle_jump_request(const JumpRequest& request) {
  if (request.term < term_) {
    send(request.from, AppendResponse{term_, options_.self, false, Offset(-1), Offset(-1),
                                      request.base_index, Offset(-1), Term(0), false});
    return;
  }
  CAIRN_ASSERT(request.term > term_ || role_ != Role::leader);
  if (request.term > term_ || role_ != Role::follower || leader_ != request.from) {
    become_follower(request.term, request.from);
  }
  last_leader_contact_ms_ = now_ms();
  reset_election_deadline();
  Offset base = log_.first_index() - 1;
  auto own_term = log_.term_at(request.base_index);
  if (request.base_index > base && (!own_term || *own_term != request.base_term)) {
    // The base is committed, so nothing we hold past it can be: drop it all.
    CAIRN_ASSERT(request.base_index > commit_index_);
    persist_hard_state();
    if (failed()) return;
    Status status = log_.reset(request.base_index, request.base_term);
    if (!status.ok()) return fail(std::move(status));
    on_log_reset(request.membership);
    commit_index_ = request.base_index;
    applied_index_ = request.base_index;
    on_commit_advanced();
  }
  leader_match_index_ = std::max(leader_match_index_, std::max(request.base_index, base));
  advance_commit(std::min(request.commit_index, leader_match_index_));
  acknowledge_leader(Ack::now);
}

Status Consensus::on_log_flushed() {
  if (failed()) return failure_;
  if (role_ == Role::leader) {
    maybe_commit();
  } else if (ack_pending_ && leader_) {
    acknowledge_leader(Ack::now);
  }
  return failure_;
}

void Consensus::handle_append_response(const AppendResponse& response) {
  if (response.term > term_) {
    become_follower(response.term, std::nullopt);
    return;
  }
  if (role_ != Role::leader || response.term != term_) return;
  auto it = progress_.find(response.from);
  if (it == progress_.end()) return;
  Progress& progress = it->second;
  progress.recently_active = true;
  progress.last_heard_ms = now_ms();
  if (!response.success) {
    // Stale: it answers an older request, or a duplicate of the last probe's
    // (unless the follower is repairing: disk damage took what it had matched).
    if (response.rejected_prev <= progress.match_index && !response.repairing) return;
    if (progress.mode == Progress::Mode::probe && response.rejected_prev != progress.next_index - 1) return;
    Offset base = log_.first_index() - 1;
    Offset agreed = response.hint_index < base
                        ? response.hint_index  // below our log: the follower must jump
                        : find_entry_end_at_or_below(log_, response.hint_index, response.hint_term,
                                                     options_.max_backoff_steps);
    // No earlier agreement point in our log (the walk stopped at our base,
    // which the follower does not hold): the follower must jump.
    if (agreed >= response.rejected_prev) agreed = base - 1;
    progress.become_probe();
    if (response.repairing) {
      progress.match_index = std::min(progress.match_index, agreed);
      progress.appended_index = std::min(progress.appended_index, agreed);
    }
    progress.next_index = std::max(progress.match_index, agreed) + 1;
    replicate_to(response.from, progress);
    return;
  }
  CAIRN_ASSERT(response.match_index <= response.appended_index);
  CAIRN_ASSERT(response.appended_index <= log_.last_index());
  if (response.match_index > progress.match_index || response.appended_index > progress.appended_index) {
    progress.progressed = true;
  }
  progress.match_index = std::max(progress.match_index, response.match_index);
  progress.appended_index = std::max(progress.appended_index, response.appended_index);
  progress.acknowledge(progress.match_index);
  progress.next_index = std::max(progress.next_index, progress.appended_index + 1);
  if (progress.mode == Progress::Mode::probe) progress.become_replicate();
  maybe_commit();
  if (role_ != Role::leader) return;
  replicate_to(response.from, progress);
  if (transfer_target_ == response.from) maybe_send_timeout_now();
}

// Sends the entries at next_index (or, for a replicating follower's
// heartbeat, nothing after match_index), or a jump if they are trimmed.
void Consensus::send_append(NodeId to, Progress& progress, bool heartbeat) {
  Offset base = log_.first_index() - 1;
  if (progress.next_index - 1 < base) {
    CAIRN_ASSERT(base <= commit_index_);  // retention trims only committed entries
    send(to, JumpRequest{term_, options_.self, base, *log_.term_at(base), commit_index_,
                         memberships_.front()});
    progress.become_probe();  // one jump at a time, answered like a probe
    progress.probe_sent = true;
    return;
  }
  bool replicating = progress.mode == Progress::Mode::replicate;
  Offset prev = heartbeat && replicating ? std::max(progress.match_index, base) : progress.next_index - 1;
  std::vector<Entry> entries;
  if (!heartbeat && progress.next_index <= log_.last_index()) {
    auto read = log_.read(progress.next_index, options_.max_bytes_per_append,
                          options_.max_entries_per_append);
    if (!read.ok()) return fail(read.status());
    entries = std::move(read.value());
  }
  Offset sent_last = entries.empty() ? prev : entries.back().last;
  send(to, AppendRequest{term_, options_.self, prev, *log_.term_at(prev), commit_index_,
                         std::move(entries)});
  if (!replicating) {
    progress.probe_sent = true;
  } else if (sent_last >= progress.next_index) {
    progress.next_index = sent_last + 1;
    progress.inflight.push_back(sent_last);
  }
}

void Consensus::replicate_to(NodeId to, Progress& progress) {
  if (progress.mode == Progress::Mode::probe) {
    if (!progress.probe_sent) send_append(to, progress, false);
    return;
  }
  while (!failed() && progress.mode == Progress::Mode::replicate &&
         std::ssize(progress.inflight) < options_.max_inflight_appends &&
         progress.next_index <= log_.last_index()) {
    send_append(to, progress, false);
  }
}

void Consensus::replicate_to_all() {
  for (auto it = progress_.begin(); it != progress_.end(); ++it) {
    replicate_to(it->first, it->second);
    if (failed()) return;  // a failed log read: fail() cleared progress_, and `it` with it
  }
}

// Every heartbeat interval: retries probes, and restarts from the last
// acknowledged index a pipeline that made no progress for a whole interval
// (its requests or answers were lost).
void Consensus::broadcast_heartbeat() {
  for (auto& [id, progress] : progress_) {
    if (progress.mode == Progress::Mode::probe) {
      progress.probe_sent = false;
    } else if (!progress.progressed && !progress.inflight.empty()) {
      progress.become_probe();
      progress.next_index = std::max(progress.match_index, progress.appended_index) + 1;
    }
    progress.progressed = false;
    bool has_room = std::ssize(progress.inflight) < options_.max_inflight_appends;
    bool has_entries = progress.next_index <= log_.last_index();
    send_append(id, progress, !(has_room && has_entries));
    if (failed()) return;  // as in replicate_to_all
  }
}

// §5.4.2: commit the highest index durable on a majority of voters, but only
// if it belongs to the current term; earlier entries commit with it.
void Consensus::maybe_commit() {
  if (role_ != Role::leader) return;
  std::vector<Offset> matches;
  for (NodeId voter : membership().voters) {
    if (voter == options_.self) {
      matches.push_back(self_durable_index());
    } else {
      const Progress* p = progress(voter);
      matches.push_back(p ? p->match_index : Offset(-1));
    }
  }
  std::sort(matches.begin(), matches.end(), std::greater<>());
  Offset candidate = matches[membership().quorum_size() - 1];
  if (candidate <= commit_index_ || log_.term_at(candidate) != term_) return;
  advance_commit(candidate);
}

void Consensus::advance_commit(Offset index) {
  if (index <= commit_index_) return;
  CAIRN_ASSERT(index <= log_.last_index());
  CAIRN_ASSERT(log_.entry_bounds(index)->last == index);
  commit_index_ = index;
  on_commit_advanced();
  apply_committed();
}

// Bounded per call, so one call never stalls the owner's other groups.
void Consensus::apply_committed() {
  int32_t budget = options_.max_apply_entries_per_call;
  while (!failed() && applied_index_ < commit_index_ && budget > 0) {
    auto read = log_.read(applied_index_ + 1, options_.max_bytes_per_append,
                          std::min(budget, options_.max_entries_per_append));
    if (!read.ok()) return fail(read.status());
    for (const Entry& entry : read.value()) {
      if (entry.first > commit_index_) break;
      CAIRN_ASSERT(entry.first == applied_index_ + 1 && entry.last <= commit_index_);
      apply_(entry);
      applied_index_ = entry.last;
      --budget;
    }
  }
}

Result<Offset> Consensus::propose(std::string payload, int64_t record_count) {
  std::vector<Proposal> one;
  one.push_back({std::move(payload), record_count});
  return propose(std::move(one));
}

Result<Offset> Consensus::propose(std::vector<Proposal> proposals) {
  if (failed()) return failure_;
  if (role_ != Role::leader) {
    return error(ErrorCode::not_leader, "node {} is not the leader (leader hint: {})",
                 options_.self, leader_ ? leader_->value : -1);
  }
  if (transfer_target_) {
    return error(ErrorCode::not_leader, "leadership is moving to node {}", *transfer_target_);
  }
  if (proposals.empty()) return error(ErrorCode::invalid_request, "nothing proposed");
  for (const auto& p : proposals) {
    if (p.record_count < 1) {
      return error(ErrorCode::invalid_request, "an entry needs at least one record");
    }
  }
  if (log_.last_index() - commit_index_ > options_.max_uncommitted_indices) {
    return error(ErrorCode::resource_exhausted, "{} uncommitted indices",
                 log_.last_index() - commit_index_);
  }
  std::vector<Entry> entries;
  entries.reserve(proposals.size());
  Offset last = log_.last_index();
  for (auto& p : proposals) {
    Offset first = last + 1;
    last = first + (p.record_count - 1);
    entries.push_back(Entry{term_, first, last, EntryType::data, std::move(p.payload)});
  }
  append_to_log(std::move(entries));
  if (failed()) return failure_;
  replicate_to_all();
  maybe_commit();
  return last;
}

}  // namespace cairn::raft
