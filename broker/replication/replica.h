#pragma once

#include <asio/io_context.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>

#include "broker/raft/consensus.h"
#include "broker/replication/segment_raft_log.h"
#include "proto/topic_partition.h"
#include "storage/partition_log.h"

namespace cairn::broker {

// How a partition replica takes part in its Raft group.
struct ReplicaSetup {
  raft::RaftOptions raft;  // self, the founding voters, timeouts
  std::unique_ptr<raft::DurableState> durable;  // term and vote, written synced
  std::unique_ptr<raft::Transport> transport;   // to the group's peers
  asio::io_context* io = nullptr;               // where flush notices run
  // The broker that should lead when it can (the first replica assigned):
  // a leader hands leadership back to it once it is caught up. None: no
  // preference.
  std::optional<int32_t> preferred_leader;
};

// One replica of a partition's Raft group: consensus over the partition's
// segment log, which nothing else may append to.
//
// One owner: every call into consensus (a proposal from a produce handler,
// a tick from the broker's timer, a message from a peer, a flush notice)
// holds the replica's mutex, so consensus runs one call at a time. Flush
// notices come from the log's flushing thread, which may hold the log's
// sync lock, so they are posted to `io` rather than taking the mutex there
// (a truncation under the mutex waits for that lock).
//
// Committed means durable on a majority: the high watermark is the commit
// index + 1, on every replica, and the log's delete limit (retention,
// DeleteRecords and compaction never touch the uncommitted tail, which a
// new leader may still truncate). A proposal's acks=all waiter is answered
// when the commit index passes its end with its own entry still there; if
// the leader steps down first, it fails with not_leader (the records may or
// may not end up committed, as with Kafka).
class Replica : public std::enable_shared_from_this<Replica> {
 public:
  using CommitCallback = std::function<void(Status)>;

  // Starts the group on `log`; `on_commit` runs (without locks) each time
  // the high watermark moves, with its new value.
  static Result<std::shared_ptr<Replica>> start(TopicPartition tp,
                                                std::shared_ptr<storage::PartitionLog> log,
                                                ReplicaSetup setup,
                                                std::function<void(Offset)> on_commit);
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;
  ~Replica();

  // Leader only: the batches, checked as the log would, proposed as entries
  // of the leader's term, all or nothing. not_leader elsewhere (the message
  // names the leader's id when known). Never runs a commit callback on the
  // calling thread: those it settles run on `io`. With `in_term`, only
  // while leading in that term (not_leader otherwise): state derived from
  // the log in that term still holds.
  Result<storage::AppendResult> propose(std::span<const std::span<const std::byte>> batches,
                                        std::optional<Term> in_term = std::nullopt);
  // `done` once offsets below `end`, the last stamped with `term`, are
  // committed; not_leader if another leader's records replaced them (or may have).
  void when_committed(Offset end, Term term, CommitCallback done);
  // The term this replica leads in; none while it does not lead.
  std::optional<Term> leading_term() const;

  Offset high_watermark() const { return Offset(high_watermark_.load()); }
  // The leader's broker id, if this replica knows one.
  std::optional<int32_t> leader() const;
  // The Raft term this replica is in.
  Term term() const { return Term(term_.load()); }
  // What this replica does in its group: leader, follower, learner (a
  // follower without a vote), pre_candidate, candidate, or stopped (by a
  // failed write, until it runs again; or closed).
  std::string_view role() const;
  // How often the leader this replica knows changed (the first one known
  // counts): elections and leadership transfers, as seen from here.
  int64_t leader_changes() const { return leader_changes_.load(); }
  // Leader only: per follower (voters and learners), the offsets of this
  // log it does not hold durably yet. Empty elsewhere.
  std::vector<std::pair<int32_t, int64_t>> follower_lags() const;
  bool is_leader() const { return leader() == self_; }
  // Damage found in its log is cut and fetched again from other voters
  // (repair): false for a group's only voter.
  bool repairable() const;
  // Repairing a damaged log now: no vote, no election (raft::HardState::lost_end).
  bool repairing() const { return repairing_.load(); }
  // How often this replica found its log damaged (at start or on a read)
  // and cut it, since the broker started.
  int64_t damage_repairs() const { return damage_repairs_.load(); }
  int32_t self() const { return self_; }
  // Leads, and has committed an entry of its own term: its high watermark
  // then covers everything any earlier leader committed (Raft §8), so
  // state rebuilt from the log up to it is complete.
  bool is_ready_leader() const { return ready_leader_.load(); }
  // The term this replica leads in while it is a ready leader; -1 otherwise.
  // State rebuilt from the log for one term must be rebuilt for the next.
  Term ready_term() const { return Term(ready_term_.load()); }

  // The partition's replicas and, while it moves, its target, as the
  // controller assigned them (preferred leader first). The leader moves the
  // group's membership to the target one change at a time: brokers new to
  // it join as learners and become voters once caught up, then those left
  // out are removed; a leader left out first hands leadership to one kept.
  void set_assignment(std::vector<int32_t> replicas, std::vector<int32_t> target);
  // Leader only: the group's voters are exactly the target, committed, with
  // no learners: the move can be finished. False while not moving.
  bool reached_target() const;
  // Leader only: hands leadership to the preferred replica now if another
  // broker's and caught up. Whether a transfer started.
  bool hand_to_preferred();
  // Leader only: hands leadership to a caught-up voter, the preferred one
  // first, for a controlled shutdown; does nothing while a transfer is in
  // flight. Whether one is (false: no voter to hand to, or not leading).
  bool hand_off();

  // Leader only: the replicas that are caught up (Kafka's in-sync replicas,
  // as an operator sees them): this one, and each follower heard from and
  // holding everything committed at some moment of the last few seconds.
  // Empty on a replica that does not lead.
  std::vector<int32_t> caught_up_replicas() const;
  // Leader only: this replica and each voter or learner heard from in the
  // last few seconds, once this one has been a ready leader that long
  // (before, it cannot tell a silent replica from one not yet heard).
  std::optional<std::vector<int32_t>> live_replicas() const;

  // From the broker's timer, every tick interval.
  void tick();
  // The steady-clock ms (raft::SteadyClock) before which tick() has nothing
  // to do, shared so that the timer can skip this replica without locking
  // it: an idle follower then costs nothing between heartbeats, an idle
  // leader one tick per heartbeat (raft::Consensus::next_tick_ms).
  std::shared_ptr<const std::atomic<int64_t>> tick_due() const { return tick_due_ms_; }
  // A message from a peer.
  void handle(const raft::Message& message);
  // Fails every waiter and stops calling consensus (the partition closes).
  void stop();

 private:
  struct Waiter {
    Term term;
    CommitCallback done;
  };
  using Due = std::vector<std::pair<CommitCallback, Status>>;

  Replica(TopicPartition tp, std::shared_ptr<storage::PartitionLog> log, ReplicaSetup setup,
          std::function<void(Offset)> on_commit);
  // Recovery found entries missing that were durable: cuts the log at the
  // first and starts consensus repairing (raft::HardState::lost_end).
  Status cut_lost_entries();
  // Saves that the log held up to `held_end` (raft::HardState::lost_end),
  // then cuts it at `from`.
  Status cut_log_at(Offset from, Offset held_end);
  bool repairable_locked() const;
  // A read found the log damaged from `damaged`: cuts it there and runs
  // consensus anew, repairing (a leader steps down by it). Not with no
  // other voter: what is damaged could not be had again.
  void repair(Offset damaged);
  std::unique_ptr<raft::Consensus> new_consensus();
  // Ends this run of consensus as a restart does: waiters told `moved`, no
  // leadership, no commit point kept. A new run follows.
  void end_run_locked(Due& due, const Status& moved);
  // From run, when consensus stops on a failed write: when to run anew.
  void on_failure_locked(const Status& why);
  // From tick: a run of consensus stopped by a failed write (a full disk)
  // starts anew once its backoff has passed.
  void restart_if_failed();
  // The last entry the log's committed checkpoint covers, if it still holds
  // it (raft::RaftOptions::known_committed).
  std::optional<Offset> committed_checkpoint() const;
  void on_log_flushed();
  // Runs `call` on consensus under the mutex, then settles what it changed.
  void run(const std::function<Status(raft::Consensus&)>& call);
  void on_applied(const raft::Entry& entry);
  // After a call (mutex held): the new high watermark, the waiters it
  // settles, and, if no longer leader, every waiter failed.
  void settle_locked(Due& due, bool* moved);
  // From settle_locked: when tick() next has work (tick_due()).
  void plan_tick_locked();
  void finish(Due& due, bool moved);
  // From tick (mutex held): a ready leader that is not the preferred one
  // hands leadership to it once it is caught up, as Kafka's automatic
  // leader rebalance does; otherwise leaders pile up on the brokers that
  // stayed up through failures.
  void hand_back_to_preferred_locked(raft::Consensus& consensus);
  bool transfer_to_preferred_locked(raft::Consensus& consensus);
  // From tick (mutex held): the next step of a move, on a ready leader.
  void move_toward_target_locked(raft::Consensus& consensus);

  const TopicPartition tp_;
  const int32_t self_;
  const std::shared_ptr<storage::PartitionLog> log_;
  SegmentRaftLog raft_log_;
  ReplicaSetup setup_;
  std::function<void(Offset)> on_commit_;
  raft::SteadyClock clock_;

  // Shared with the log's owner guard (PartitionLog::set_owner_guard).
  const std::shared_ptr<std::mutex> mutex_ = std::make_shared<std::mutex>();
  std::unique_ptr<raft::Consensus> consensus_;  // null once stopped
  std::multimap<Offset, Waiter> waiters_;       // by end offset
  std::vector<raft::EntryBounds> applied_;      // entries committed during the current call
  std::atomic<int64_t> high_watermark_;
  // See tick_due(). Set after every call into consensus (settle_locked);
  // outside one, 0 (tick now) when consensus is replaced and never when it
  // stops for good.
  const std::shared_ptr<std::atomic<int64_t>> tick_due_ms_ = std::make_shared<std::atomic<int64_t>>(0);
  std::atomic<int64_t> leader_{-1};
  std::atomic<int64_t> term_{0};
  std::atomic<int64_t> leader_changes_{0};
  std::atomic<bool> repairing_{false};
  std::atomic<int64_t> damage_repairs_{0};
  int64_t last_known_leader_ = -1;      // guarded by mutex_
  std::atomic<bool> ready_leader_{false};
  std::atomic<int64_t> ready_term_{-1};
  int64_t ready_since_ms_ = 0;          // guarded by mutex_
  std::optional<int32_t> preferred_;    // guarded by mutex_
  std::vector<int32_t> target_;         // guarded by mutex_; empty: not moving
  int64_t last_hand_back_ms_ = 0;       // guarded by mutex_
  // After a failed write (guarded by mutex_): when consensus runs anew (0:
  // not failed, or not to be restarted), the backoff, and when it last did.
  int64_t restart_at_ms_ = 0;
  int64_t restart_backoff_ms_ = 0;
  int64_t restarted_ms_ = 0;
  bool failure_noted_ = false;  // this run's failure was logged and its restart planned
  // By follower (leader only): when it last sent a message, and when its
  // acknowledged log last held everything committed. Guarded by mutex_.
  std::map<int32_t, int64_t> last_heard_ms_;
  std::map<int32_t, int64_t> last_caught_up_ms_;
};

}  // namespace cairn::broker
