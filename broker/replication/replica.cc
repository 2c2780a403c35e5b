#include "broker/replication/replica.h"

#include "storage/clock.h"

#include <asio/post.hpp>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>

#include "proto/assert.h"
#include "proto/byte_io.h"

namespace cairn::broker {

// tick_due() of a replica that nothing but a broker restart runs again.
constexpr int64_t kNeverTick = std::numeric_limits<int64_t>::max();

// How long a leader leads before handing back to the preferred replica, and
// between two attempts: long enough for a restarted broker to catch up.
constexpr int64_t kHandBackDelayMs = 5'000;
// A follower not heard from, or not holding everything committed, for this
// long is not caught up.
constexpr int64_t kCaughtUpWindowMs = 5'000;
// Between two attempts of a leader leaving a moving partition's group to
// hand leadership over.
constexpr int64_t kTransferRetryMs = 1'000;

Result<std::shared_ptr<Replica>> Replica::start(TopicPartition tp,
                                                std::shared_ptr<storage::PartitionLog> log,
                                                ReplicaSetup setup,
                                                std::function<void(Offset)> on_commit) {
  CAIRN_ASSERT(setup.durable && setup.transport && setup.io);
  std::shared_ptr<Replica> replica(
      new Replica(std::move(tp), std::move(log), std::move(setup), std::move(on_commit)));
  // Nothing is deletable until this replica learns what is committed.
  replica->log_->set_delete_limit(replica->log_->log_start());
  std::weak_ptr<Replica> weak = replica;
  // Consensus reads the log start and the entries past it in one call:
  // retention and snapshots move the start between calls, never during one.
  // The mutex alone outlives the replica: a guard held on the store's
  // thread never keeps the replica (and its callbacks) alive there.
  replica->log_->set_owner_guard([mutex = replica->mutex_]() -> std::shared_ptr<void> {
    mutex->lock();
    return std::shared_ptr<void>(mutex.get(), [mutex](void*) { mutex->unlock(); });
  });
  replica->log_->set_flushed_listener([weak, io = replica->setup_.io](Offset) {
    if (weak.expired()) return;  // the io_context may be gone with its replicas
    asio::post(*io, [weak] {
      if (auto strong = weak.lock()) strong->on_log_flushed();
    });
  });
  // A read may find damage while consensus runs (the leader reading entries
  // for a follower): the repair waits until that call is over.
  replica->log_->set_damage_listener([weak, io = replica->setup_.io](Offset from) {
    if (weak.expired()) return;
    asio::post(*io, [weak, from] {
      if (auto strong = weak.lock()) strong->repair(from);
    });
  });
  std::lock_guard lock(*replica->mutex_);
  CAIRN_RETURN_IF_ERROR(replica->cut_lost_entries());
  Status started = replica->consensus_->start();
  if (!started.ok()) return started;
  replica->repairing_ = replica->consensus_->repairing();
  if (replica->consensus_->repairing()) {
    spdlog::warn("{}: repairing a damaged log: no vote and no election until the leader has "
                 "sent back what it lost (up to offset {})",
                 replica->tp_, *replica->setup_.durable->hard_state().lost_end);
  }
  return replica;
}

Status Replica::cut_lost_entries() {
  const auto& lost = log_->recovery_report().lost;
  if (lost.empty()) return {};
  // Recovery kept what follows a hole; Raft's log has none.
  Offset first = lost.front().first;
  spdlog::error("{}: disk damage took offsets [{}, {}) that this replica had made durable; its "
                "log now ends at {}, and the leader will send the rest again",
                tp_, first, lost.front().second, first);
  return cut_log_at(first, std::max(log_->log_end(), lost.back().second));
}

Status Replica::cut_log_at(Offset from, Offset held_end) {
  // Repairing is saved first, so a crash before the cut cannot forget it.
  ++damage_repairs_;
  raft::HardState state = setup_.durable->hard_state();
  state.lost_end = std::max(state.lost_end.value_or(Offset(0)), held_end);
  CAIRN_RETURN_IF_ERROR(setup_.durable->save_hard_state(state));
  return from < log_->log_end() ? raft_log_.truncate_suffix(from) : Status();
}

bool Replica::repairable() const {
  std::lock_guard lock(*mutex_);
  return repairable_locked();
}

bool Replica::repairable_locked() const { return consensus_ && consensus_->membership().voters.size() > 1; }

void Replica::repair(Offset damaged) {
  Due due;
  {
    std::lock_guard lock(*mutex_);
    if (!consensus_ || damaged >= log_->log_end() || damaged < log_->log_start()) return;
    if (!repairable_locked()) {
      spdlog::error("{}: the log is damaged from offset {} and no other replica holds a copy: "
                    "reads there fail with storage_corrupt",
                    tp_, damaged);
      return;
    }
    spdlog::error("{}: the log is damaged from offset {}: cutting it there, {}repairing from the "
                  "other replicas",
                  tp_, damaged, consensus_->role() == raft::Role::leader ? "stepping down and " : "");
    // Only what was flushed can have been acknowledged: what it lost past
    // that, no one counted on, and pretending to hold it would only make its
    // vote harder to win.
    Status cut = cut_log_at(damaged, std::max(damaged, log_->flushed()));
    // A new run of consensus over the cut log, as after a restart: no
    // leadership, no commit point, no waiter kept.
    end_run_locked(due, error(ErrorCode::not_leader, "{}: the leader's log was damaged; the records "
                                   "may or may not be committed", tp_));
    consensus_ = new_consensus();
    Status started = cut.ok() ? consensus_->start() : cut;
    repairing_ = started.ok() && consensus_->repairing();
    tick_due_ms_->store(0);
    if (!started.ok()) {
      spdlog::error("{}: cannot repair: {}; the replica stops until the broker restarts", tp_, started.to_string());
      consensus_.reset();
      tick_due_ms_->store(kNeverTick);
    }
  }
  finish(due, false);
}

void Replica::end_run_locked(Due& due, const Status& moved) {
  for (auto& [end, waiter] : waiters_) due.emplace_back(std::move(waiter.done), moved);
  waiters_.clear();
  applied_.clear();
  if (leader_.load() == self_) leader_ = -1;
  ready_leader_ = false;
  ready_term_ = -1;
  high_watermark_ = std::min(high_watermark_.load(), log_->log_end().value);
  // The next run's failure is its own (a repair also starts a run anew).
  failure_noted_ = false;
  restart_at_ms_ = 0;
}

// A write that failed (a full disk: the log undid it) stops consensus
// (raft::Consensus's failure rule). The replica then runs it anew, as a
// broker restart would: from the log and the saved term and vote, which
// hold only what was written. Backoff from 1 s doubles to 30 s while runs
// keep failing within a minute. A log stopped by a failed sync is not
// restarted: after one, only recovery from its files at the broker's next
// start can tell what is durable (PostgreSQL's lesson from fsync errors).
constexpr int64_t kFirstRestartBackoffMs = 1'000;
constexpr int64_t kMaxRestartBackoffMs = 30'000;
constexpr int64_t kHealthyRunMs = 60'000;

void Replica::on_failure_locked(const Status& why) {
  failure_noted_ = true;
  if (log_->stopped()) {
    restart_at_ms_ = 0;
    spdlog::error("{}: Raft stopped: {}; its log stopped too, so this replica stays stopped until the broker "
                  "restarts (recovery then checks what its files hold)",
                  tp_, why.to_string());
    return;
  }
  int64_t now = clock_.now_ms();
  restart_backoff_ms_ = now - restarted_ms_ >= kHealthyRunMs
                            ? kFirstRestartBackoffMs
                            : std::min(kMaxRestartBackoffMs, std::max(kFirstRestartBackoffMs, 2 * restart_backoff_ms_));
  restart_at_ms_ = now + restart_backoff_ms_;
  spdlog::error("{}: Raft stopped: {}; it runs again in {} s, as after a restart (free disk space if it is full)",
                tp_, why.to_string(), restart_backoff_ms_ / 1'000);
}

void Replica::restart_if_failed() {
  Due due;
  {
    std::lock_guard lock(*mutex_);
    if (!consensus_ || !consensus_->failed()) return;
    // A proposal's failed append stops consensus outside run().
    if (!failure_noted_) on_failure_locked(consensus_->failure());
    int64_t now = clock_.now_ms();
    if (restart_at_ms_ == 0 || now < restart_at_ms_ || log_->stopped()) return;
    restart_at_ms_ = 0;
    restarted_ms_ = now;
    end_run_locked(due, error(ErrorCode::not_leader, "{}: a write failed; the records may or may not be committed",
                              tp_));
    auto failed = std::move(consensus_);
    consensus_ = new_consensus();
    Status started = consensus_->start();
    if (!started.ok()) {
      consensus_ = std::move(failed);
      on_failure_locked(started);
    } else {
      repairing_ = consensus_->repairing();
      tick_due_ms_->store(0);
      spdlog::info("{}: Raft runs again after a failed write, from its log (offsets [{}, {})) and saved term {}", tp_,
                   log_->log_start(), log_->log_end(), setup_.durable->hard_state().term.value);
    }
  }
  finish(due, false);
}

Replica::Replica(TopicPartition tp, std::shared_ptr<storage::PartitionLog> log,
                 ReplicaSetup setup, std::function<void(Offset)> on_commit)
    : tp_(std::move(tp)),
      self_(static_cast<int32_t>(setup.raft.self.value)),
      log_(std::move(log)),
      raft_log_(*log_),
      setup_(std::move(setup)),
      on_commit_(std::move(on_commit)),
      high_watermark_(log_->log_start().value),
      preferred_(setup_.preferred_leader) {
  consensus_ = new_consensus();
}

std::unique_ptr<raft::Consensus> Replica::new_consensus() {
  raft::RaftOptions options = setup_.raft;
  options.known_committed = committed_checkpoint();
  return std::make_unique<raft::Consensus>(options, raft_log_, *setup_.durable, *setup_.transport, clock_,
                                           [this](const raft::Entry& entry) { on_applied(entry); });
}

std::optional<Offset> Replica::committed_checkpoint() const {
  // What was committed and is still held: a crash or a repair may have cut the log below it.
  Offset last = std::min(log_->committed_checkpoint(), log_->log_end()) - 1;
  if (last < log_->log_start()) return std::nullopt;
  // Where an entry ends, as apply goes entry by entry.
  auto batch = log_->batch_header_at(last);
  if (!batch.ok() || batch->last_offset() != last) return std::nullopt;
  return last;
}

Replica::~Replica() { stop(); }

std::optional<int32_t> Replica::leader() const {
  int64_t id = leader_.load();
  return id < 0 ? std::nullopt : std::optional<int32_t>(static_cast<int32_t>(id));
}

std::string_view Replica::role() const {
  std::lock_guard lock(*mutex_);
  if (!consensus_ || consensus_->failed()) return "stopped";
  const auto& voters = consensus_->membership().voters;
  if (consensus_->role() == raft::Role::follower &&
      std::find(voters.begin(), voters.end(), raft::NodeId(self_)) == voters.end()) {
    return "learner";
  }
  return raft::role_name(consensus_->role());
}

std::optional<Term> Replica::leading_term() const {
  std::lock_guard lock(*mutex_);
  if (!consensus_ || consensus_->role() != raft::Role::leader) return std::nullopt;
  return consensus_->term();
}

Result<storage::AppendResult> Replica::propose(
    std::span<const std::span<const std::byte>> batches, std::optional<Term> in_term) {
  // Bad input is refused here: at the leader's own append it would stop the group.
  auto headers = log_->check_batches(batches);
  if (!headers.ok()) return headers.status();
  std::vector<raft::Consensus::Proposal> proposals;
  proposals.reserve(batches.size());
  int64_t records = 0;
  for (size_t i = 0; i < batches.size(); ++i) {
    int64_t count = (*headers)[i].last_offset_delta + 1;
    records += count;
    proposals.push_back({std::string(as_chars(batches[i])), count});
  }
  Due due;
  bool moved = false;
  // Stopped (closed, or the broker is shutting down after handing its
  // leadership over): not the leader, so clients look the leader up again.
  Result<Offset> last = error(ErrorCode::not_leader, "partition {} is closed here", tp_);
  Term term;
  {
    std::lock_guard lock(*mutex_);
    if (consensus_ && in_term && consensus_->term() != *in_term) {
      last = error(ErrorCode::not_leader, "partition {} moved on to term {}", tp_, consensus_->term());
    } else if (consensus_) {
      last = consensus_->propose(std::move(proposals));
      term = consensus_->term();
      settle_locked(due, &moved);
    }
  }
  // Proposing may commit earlier proposals (the leader's own flush counts
  // at once). Their callbacks run on `io`, never on the proposer's thread:
  // it may hold a lock they take (the group coordinator appends commits
  // under its mutex, and a commit's callback takes it).
  if (!due.empty() || moved) {
    asio::post(*setup_.io, [self = shared_from_this(), due = std::move(due), moved]() mutable {
      self->finish(due, moved);
    });
  }
  if (!last.ok()) {
    if (last.status().code() == ErrorCode::not_leader) {
      auto known = leader();
      return error(ErrorCode::not_leader, "{}: broker {} is not the leader; {}", tp_, self_,
                   known ? fmt::format("broker {} is", *known) : std::string("none is known yet"));
    }
    return last.status();
  }
  storage::AppendResult result;
  result.base_offset = *last - (records - 1);
  result.last_offset = *last;
  result.term = term;
  result.append_time_ms = storage::Clock::system().now_ms();
  return result;
}

void Replica::when_committed(Offset end, Term term, CommitCallback done) {
  Status outcome;
  {
    std::lock_guard lock(*mutex_);
    if (!consensus_) {
      outcome = error(ErrorCode::shutting_down, "partition {} is closed", tp_);
    } else if (Offset(high_watermark_.load()) >= end) {
      // Committed already (a peer's message may have come between the
      // proposal and this call): theirs only if the entry there is still
      // of the proposal's term.
      outcome = log_->term_at(end - 1) == term
                    ? Status()
                    : error(ErrorCode::not_leader,
                            "{}: offset {} was replaced by another leader's record", tp_, end - 1);
    } else if (consensus_->role() != raft::Role::leader || log_->term_at(end - 1) != term) {
      // Leading, with the entry still there: a leader never truncates its
      // own log, so it commits it (the entry may be from an earlier term: a
      // retried produce answered with where its first attempt landed).
      outcome = error(ErrorCode::not_leader, "{}: leadership moved before offset {} committed",
                      tp_, end - 1);
    } else {
      // The entry at end - 1 must still be there, in `term`, when the
      // commit index passes it.
      waiters_.emplace(end, Waiter{term, std::move(done)});
      return;
    }
  }
  done(outcome);
}

void Replica::tick() {
  restart_if_failed();
  run([this](raft::Consensus& c) {
    CAIRN_RETURN_IF_ERROR(c.tick());
    if (!target_.empty()) {
      move_toward_target_locked(c);
    } else {
      hand_back_to_preferred_locked(c);
    }
    return Status();
  });
}

void Replica::set_assignment(std::vector<int32_t> replicas, std::vector<int32_t> target) {
  std::lock_guard lock(*mutex_);
  const auto& preferred_from = target.empty() ? replicas : target;
  preferred_ = preferred_from.empty() ? std::nullopt : std::optional<int32_t>(preferred_from.front());
  target_ = std::move(target);
}

namespace {

// `id` has everything the leader committed and answers.
bool caught_up(const raft::Consensus& consensus, int32_t id) {
  const raft::Progress* progress = consensus.progress(raft::NodeId(id));
  return progress && consensus.heard_from_recently(raft::NodeId(id)) &&
         progress->match_index >= consensus.commit_index();
}

bool contains(const std::vector<int32_t>& ids, raft::NodeId id) {
  return std::find(ids.begin(), ids.end(), static_cast<int32_t>(id.value)) != ids.end();
}

}  // namespace

void Replica::hand_back_to_preferred_locked(raft::Consensus& consensus) {
  if (!ready_leader_) return;
  int64_t now = clock_.now_ms();
  if (now - ready_since_ms_ < kHandBackDelayMs || now - last_hand_back_ms_ < kHandBackDelayMs) return;
  transfer_to_preferred_locked(consensus);
}

bool Replica::transfer_to_preferred_locked(raft::Consensus& consensus) {
  if (!preferred_ || *preferred_ == self_ || !ready_leader_ || !caught_up(consensus, *preferred_) ||
      !consensus.membership().is_voter(raft::NodeId(*preferred_))) {
    return false;
  }
  last_hand_back_ms_ = clock_.now_ms();
  if (!consensus.transfer_leadership(raft::NodeId(*preferred_)).ok()) return false;
  spdlog::info("{}: handing leadership to broker {}, its preferred leader", tp_, *preferred_);
  return true;
}

bool Replica::hand_to_preferred() {
  bool moved = false;
  run([&](raft::Consensus& c) {
    moved = transfer_to_preferred_locked(c);
    return Status();
  });
  return moved;
}

bool Replica::hand_off() {
  bool started = false;
  run([&](raft::Consensus& c) {
    if (c.role() != raft::Role::leader) return Status();
    // Restarting a transfer in flight would push its deadline back, and
    // could switch its target mid-way.
    if (c.transferring()) {
      started = true;
      return Status();
    }
    started = transfer_to_preferred_locked(c);
    for (raft::NodeId voter : c.membership().voters) {
      auto id = static_cast<int32_t>(voter.value);
      if (started) break;
      if (id == self_ || !caught_up(c, id)) continue;
      started = c.transfer_leadership(voter).ok();
      if (started) spdlog::info("{}: shutting down: handing leadership to broker {}", tp_, id);
    }
    return Status();
  });
  return started;
}

void Replica::move_toward_target_locked(raft::Consensus& consensus) {
  if (!ready_leader_ || consensus.membership_change_pending()) return;
  const raft::Membership members = consensus.membership();
  auto changed = [&](Status status, std::string_view what, int32_t id) {
    if (status.ok()) spdlog::info("{}: {} broker {} (moving to brokers {})", tp_, what, id, fmt::join(target_, ","));
  };
  for (int32_t id : target_) {
    if (!members.contains(raft::NodeId(id))) return changed(consensus.add_learner(raft::NodeId(id)), "adding learner", id);
  }
  for (raft::NodeId id : members.learners) {
    auto broker = static_cast<int32_t>(id.value);
    if (!contains(target_, id)) return changed(consensus.remove_member(id), "removing learner", broker);
    // Promoted once it keeps up (Consensus::learner_caught_up): it counts
    // towards quorums from then on. Each try may start a catch-up round.
    if (consensus.heard_from_recently(id)) changed(consensus.promote_learner(id), "promoting", broker);
    return;
  }
  for (raft::NodeId id : members.voters) {
    auto broker = static_cast<int32_t>(id.value);
    if (broker != self_ && !contains(target_, id)) return changed(consensus.remove_member(id), "removing", broker);
  }
  if (contains(target_, raft::NodeId(self_))) return;
  // Left out, and the last one: a leader kept in the group removes this one.
  int64_t now = clock_.now_ms();
  if (now - last_hand_back_ms_ < kTransferRetryMs) return;
  for (int32_t id : target_) {
    if (!caught_up(consensus, id)) continue;
    last_hand_back_ms_ = now;
    return changed(consensus.transfer_leadership(raft::NodeId(id)), "leaving, handing leadership to", id);
  }
}

bool Replica::reached_target() const {
  std::lock_guard lock(*mutex_);
  if (!consensus_ || target_.empty() || !ready_leader_ || consensus_->membership_change_pending()) {
    return false;
  }
  const raft::Membership& members = consensus_->membership();
  if (!members.learners.empty() || members.voters.size() != target_.size()) return false;
  for (raft::NodeId id : members.voters) {
    if (!contains(target_, id)) return false;
  }
  return true;
}

void Replica::handle(const raft::Message& message) {
  run([&](raft::Consensus& c) {
    last_heard_ms_[static_cast<int32_t>(raft::message_from(message).value)] = clock_.now_ms();
    return c.handle(message);
  });
}

std::vector<int32_t> Replica::caught_up_replicas() const {
  std::lock_guard lock(*mutex_);
  if (!consensus_ || consensus_->role() != raft::Role::leader) return {};
  int64_t now = clock_.now_ms();
  auto recent = [&](const std::map<int32_t, int64_t>& times, int32_t id) {
    auto it = times.find(id);
    return it != times.end() && now - it->second < kCaughtUpWindowMs;
  };
  std::vector<int32_t> out;
  for (raft::NodeId voter : consensus_->membership().voters) {
    auto id = static_cast<int32_t>(voter.value);
    if (id == self_ || (recent(last_heard_ms_, id) && recent(last_caught_up_ms_, id))) out.push_back(id);
  }
  return out;
}

std::vector<std::pair<int32_t, int64_t>> Replica::follower_lags() const {
  std::lock_guard lock(*mutex_);
  std::vector<std::pair<int32_t, int64_t>> out;
  if (!consensus_ || consensus_->role() != raft::Role::leader) return out;
  Offset last = log_->log_end() - 1;
  const raft::Membership& members = consensus_->membership();
  for (const auto* ids : {&members.voters, &members.learners}) {
    for (raft::NodeId member : *ids) {
      auto id = static_cast<int32_t>(member.value);
      const raft::Progress* progress = consensus_->progress(member);
      if (id == self_ || !progress) continue;
      out.emplace_back(id, std::max<int64_t>(0, last - progress->match_index));
    }
  }
  return out;
}

std::optional<std::vector<int32_t>> Replica::live_replicas() const {
  std::lock_guard lock(*mutex_);
  int64_t now = clock_.now_ms();
  if (!consensus_ || !ready_leader_ || now - ready_since_ms_ < kCaughtUpWindowMs) return std::nullopt;
  std::vector<int32_t> out;
  const raft::Membership& members = consensus_->membership();
  for (const auto* ids : {&members.voters, &members.learners}) {
    for (raft::NodeId member : *ids) {
      auto id = static_cast<int32_t>(member.value);
      auto heard = last_heard_ms_.find(id);
      if (id == self_ || (heard != last_heard_ms_.end() && now - heard->second < kCaughtUpWindowMs)) {
        out.push_back(id);
      }
    }
  }
  return out;
}

void Replica::on_log_flushed() {
  run([](raft::Consensus& c) { return c.on_log_flushed(); });
}

void Replica::stop() {
  Due due;
  {
    std::lock_guard lock(*mutex_);
    if (!consensus_) return;
    consensus_.reset();
    tick_due_ms_->store(kNeverTick);
    // Leads nothing from now on: metadata must not name it.
    if (leader_.load() == self_) leader_ = -1;
    ready_leader_ = false;
    ready_term_ = -1;
    Status closed = error(ErrorCode::shutting_down, "partition {} is closed", tp_);
    for (auto& [end, waiter] : waiters_) due.emplace_back(std::move(waiter.done), closed);
    waiters_.clear();
  }
  finish(due, false);
}

void Replica::run(const std::function<Status(raft::Consensus&)>& call) {
  Due due;
  bool moved = false;
  {
    std::lock_guard lock(*mutex_);
    if (!consensus_) return;
    (void)call(*consensus_);
    if (consensus_->failed() && !failure_noted_) on_failure_locked(consensus_->failure());
    settle_locked(due, &moved);
  }
  finish(due, moved);
}

void Replica::on_applied(const raft::Entry& entry) {
  applied_.push_back({entry.first, entry.last, entry.term});
}

void Replica::settle_locked(Due& due, bool* moved) {
  auto leader = consensus_->leader();
  leader_ = leader ? leader->value : -1;
  term_ = consensus_->term().value;
  repairing_ = consensus_->repairing();
  if (leader && leader->value != last_known_leader_) {
    last_known_leader_ = leader->value;
    ++leader_changes_;
  }
  bool leads = consensus_->role() == raft::Role::leader;
  if (!leads) {
    ready_leader_ = false;
    ready_term_ = -1;
  }
  bool became_ready = false;
  for (const raft::EntryBounds& entry : applied_) {
    if (leads && !ready_leader_ && entry.term == consensus_->term()) became_ready = true;
    Offset end = entry.last + 1;
    // Waiters whose last offset this entry holds: theirs if the term matches.
    while (!waiters_.empty() && waiters_.begin()->first <= end) {
      auto node = waiters_.extract(waiters_.begin());
      Waiter& waiter = node.mapped();
      bool ours = node.key() > entry.first && waiter.term == entry.term;
      due.emplace_back(std::move(waiter.done),
                       ours ? Status()
                            : error(ErrorCode::not_leader,
                                    "{}: offset {} was replaced by another leader's record", tp_,
                                    node.key() - 1));
    }
  }
  applied_.clear();
  // Applied, not just each entry's end: a jump forward moves it too.
  int64_t applied_end = consensus_->applied_index().value + 1;
  if (applied_end > high_watermark_.load()) {
    high_watermark_ = applied_end;
    // Retention and compaction stay below it: the tail may still be truncated.
    log_->set_delete_limit(Offset(applied_end));
    *moved = true;
  }
  if (became_ready) {
    // Published after the high watermark: whoever sees this term ready sees
    // a high watermark covering every earlier leader's commits. What was
    // heard as a follower, or in an earlier term, says nothing of now.
    last_heard_ms_.clear();
    last_caught_up_ms_.clear();
    ready_since_ms_ = clock_.now_ms();
    ready_term_ = consensus_->term().value;
    ready_leader_ = true;
  }
  if (leads) {
    int64_t now = clock_.now_ms();
    for (raft::NodeId voter : consensus_->membership().voters) {
      const raft::Progress* progress = consensus_->progress(voter);
      if (progress && progress->match_index >= consensus_->commit_index()) {
        last_caught_up_ms_[static_cast<int32_t>(voter.value)] = now;
      }
    }
  }
  if (consensus_->role() != raft::Role::leader && !waiters_.empty()) {
    Status moved_away = error(ErrorCode::not_leader,
                              "{}: leadership moved before these records committed; they may "
                              "or may not be",
                              tp_);
    for (auto& [end, waiter] : waiters_) due.emplace_back(std::move(waiter.done), moved_away);
    waiters_.clear();
  }
  plan_tick_locked();
}

// What tick() does beyond consensus (hand-back to the preferred replica,
// the steps of a move) is a ready leader's, and a leader's next tick is at
// most a heartbeat interval away: those steps wait at most that long.
void Replica::plan_tick_locked() {
  int64_t due = 0;  // a failure not yet noted: the next tick notes it
  if (!consensus_) {
    due = kNeverTick;
  } else if (!consensus_->failed()) {
    due = consensus_->next_tick_ms();
  } else if (failure_noted_) {
    // restart_if_failed's next step, unless its log stopped: then only a
    // broker restart runs it again.
    due = restart_at_ms_ == 0 || log_->stopped() ? kNeverTick : restart_at_ms_;
  }
  tick_due_ms_->store(due);
}

void Replica::finish(Due& due, bool moved) {
  for (auto& [done, status] : due) done(status);
  if (moved && on_commit_) on_commit_(high_watermark());
}

}  // namespace cairn::broker
