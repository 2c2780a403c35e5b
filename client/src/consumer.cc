#include "cairn/consumer.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <future>
#include <thread>

#include "cairn/admin.h"
#include "cluster.h"
#include "fetched_batches.h"
#include "group_membership.h"
#include "proto/byte_io.h"
#include "proto/rpc_error.h"
#include "reachability.h"
#include "retry_backoff.h"

namespace cairn {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Unprocessed fetch responses kept per consumer before fetching pauses.
constexpr size_t kMaxPrefetchedResponses = 2;

struct PartitionState {
  std::optional<Offset> position;  // next offset poll() hands out
  Offset fetch_offset;             // next offset to fetch
  uint64_t epoch = 0;              // new at every seek or (re)assignment: older fetches are void
  // A position the broker found outside the log, until auto_offset_reset
  // replaced it (then reported to on_offset_reset).
  std::optional<Offset> out_of_range;
  bool paused = false;  // neither fetched nor handed out
};

// A position moved because it was outside the log.
struct PositionReset {
  TopicPartition tp;
  Offset out_of_range;
  Offset reset_to;
};

struct Fetch {
  std::string address;
  std::shared_ptr<client::BrokerConnection> connection;
  grpc::ClientContext context;
  v1::FetchRequest request;
  v1::FetchResponse response;
  std::map<TopicPartition, uint64_t> epochs;
  grpc::Status status;
};

class ConsumerImpl final : public Consumer {
 public:
  explicit ConsumerImpl(ConsumerOptions options)
      : options_(std::move(options)),
        cluster_(options_.client),
        reachability_(std::chrono::milliseconds(options_.reconnect_timeout_ms)) {}

  ~ConsumerImpl() override {
    close();
    std::vector<std::future<void>> commits;  // those close() gave up on: they use this
    {
      std::lock_guard lock(mutex_);
      commits.swap(async_commits_);
    }
    for (auto& f : commits) f.wait();
  }
  using Consumer::close;

  Status assign(const std::vector<TopicPartition>& partitions) override {
    std::lock_guard lock(mutex_);
    std::map<TopicPartition, PartitionState> next;
    for (const auto& tp : partitions) {
      auto it = partitions_.find(tp);
      next[tp] = it != partitions_.end() ? it->second : PartitionState{};
      next[tp].epoch = ++last_epoch_;
    }
    partitions_ = std::move(next);
    std::erase_if(ready_, [&](const ConsumerRecord& r) {
      return !partitions_.count({r.topic, r.partition});
    });
    return {};
  }

  std::vector<TopicPartition> assignment() const override {
    std::lock_guard lock(mutex_);
    std::vector<TopicPartition> out;
    for (const auto& [tp, state] : partitions_) out.push_back(tp);
    return out;
  }

  Status seek(const TopicPartition& tp, Offset offset) override {
    std::lock_guard lock(mutex_);
    auto it = partitions_.find(tp);
    if (it == partitions_.end()) {
      return error(ErrorCode::invalid_request, "{} is not assigned to this consumer", tp);
    }
    set_position_locked(tp, it->second, offset);
    return {};
  }

  Status seek_to_beginning(const std::vector<TopicPartition>& partitions) override {
    return seek_with(partitions, OffsetSpec::earliest());
  }
  Status seek_to_end(const std::vector<TopicPartition>& partitions) override {
    return seek_with(partitions, OffsetSpec::latest());
  }
  Status seek_to_time(const std::vector<TopicPartition>& partitions, int64_t timestamp_ms) override {
    return seek_with(partitions, OffsetSpec::at_time(timestamp_ms));
  }

  Result<Offset> position(const TopicPartition& tp) override {
    CAIRN_RETURN_IF_ERROR(resolve_positions());
    std::lock_guard lock(mutex_);
    auto it = partitions_.find(tp);
    if (it == partitions_.end() || !it->second.position) {
      return error(ErrorCode::invalid_request, "{} is not assigned to this consumer", tp);
    }
    return *it->second.position;
  }

  Status subscribe(const std::vector<std::string>& topics, RebalanceListener listener) override {
    return join({options_.group_id, topics, "", options_.assignor, options_.session_timeout_ms},
                std::move(listener));
  }

  Status subscribe_pattern(const std::string& pattern, RebalanceListener listener) override {
    return join({options_.group_id, {}, pattern, options_.assignor, options_.session_timeout_ms},
                std::move(listener));
  }

  Status commit_sync() override { return commit(consumed_positions()); }

  Status commit_sync(const std::map<TopicPartition, Offset>& offsets) override {
    return commit({offsets, incarnation()});
  }

  void commit_async(std::function<void(Status)> done) override {
    auto positions = consumed_positions();
    std::lock_guard lock(mutex_);
    std::erase_if(async_commits_, [](const std::future<void>& f) {
      return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
    });
    async_commits_.push_back(std::async(std::launch::async, [this, positions, done = std::move(done)] {
      Status s = commit(positions);
      if (done) done(s);
    }));
  }

  Result<std::map<TopicPartition, Offset>> committed(const std::vector<TopicPartition>& partitions) override {
    if (!membership_) return error(ErrorCode::invalid_request, "committed offsets need a group");
    return membership_->committed({partitions.begin(), partitions.end()});
  }

  Result<std::vector<ConsumerRecord>> poll(std::chrono::milliseconds timeout) override {
    auto deadline = SteadyClock::now() + timeout;
    if (membership_) {
      CAIRN_RETURN_IF_ERROR(reconcile());
      auto_commit();
    }
    CAIRN_RETURN_IF_ERROR(resolve_positions());
    std::unique_lock lock(mutex_);
    while (true) {
      if (std::exchange(woken_, false)) {
        return error(ErrorCode::woken_up, "poll() was interrupted by wakeup()");
      }
      // Records before a failure first: they precede what failed.
      if (!ready_.empty()) return take_ready_locked();
      if (!failure_.ok()) return std::exchange(failure_, Status());
      if (!completed_.empty()) {
        auto fetch = std::move(completed_.front());
        completed_.pop_front();
        process_locked(*fetch);
        continue;
      }
      start_fetches_locked();
      // With nothing in flight, look again when a retry is due.
      arrived_.wait_until(lock, in_flight_.empty() ? std::min(deadline, next_retry_locked()) : deadline);
      if (woken_) continue;  // reported at the top, before any request
      if (SteadyClock::now() >= deadline && completed_.empty()) {
        CAIRN_RETURN_IF_ERROR(reachability_.check());
        return std::vector<ConsumerRecord>{};
      }
      lock.unlock();
      // The membership may have been lost while waiting: hand out nothing of it.
      if (membership_) CAIRN_RETURN_IF_ERROR(reconcile());
      CAIRN_RETURN_IF_ERROR(resolve_positions());
      lock.lock();
    }
  }

  void wakeup() override {
    {
      std::lock_guard lock(mutex_);
      woken_ = true;
    }
    arrived_.notify_all();
  }

  Status pause(const std::vector<TopicPartition>& partitions) override {
    return set_paused(partitions, true);
  }
  Status resume(const std::vector<TopicPartition>& partitions) override {
    return set_paused(partitions, false);
  }

  std::vector<TopicPartition> paused() const override {
    std::lock_guard lock(mutex_);
    std::vector<TopicPartition> out;
    for (const auto& [tp, state] : partitions_) {
      if (state.paused) out.push_back(tp);
    }
    return out;
  }

  void close(std::chrono::milliseconds timeout) override {
    auto now = SteadyClock::now();
    auto room = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::time_point::max() - now);
    auto not_after = timeout >= room ? SteadyClock::time_point::max() : now + timeout;
    std::vector<std::future<void>> commits;
    {
      std::lock_guard lock(mutex_);
      if (closed_) return;
      commits.swap(async_commits_);
    }
    // Without the lock: their callbacks may call us. Those not done by the
    // deadline are left for the destructor, which must outlive them.
    for (auto& f : commits) f.wait_until(not_after);
    if (membership_) {
      if (options_.enable_auto_commit && SteadyClock::now() < not_after) (void)commit(consumed_positions(), not_after);
      membership_->leave(not_after);
    }
    std::unique_lock lock(mutex_);
    std::move(commits.begin(), commits.end(), std::back_inserter(async_commits_));
    closed_ = true;
    for (auto& [address, fetch] : in_flight_) fetch->context.TryCancel();
    arrived_.wait(lock, [&] { return in_flight_.empty(); });
  }

 private:
  Status join(client::MembershipOptions membership, RebalanceListener listener) {
    if (options_.group_id.empty()) {
      return error(ErrorCode::invalid_config, "subscribe needs ConsumerOptions::group_id");
    }
    if (membership_) return error(ErrorCode::invalid_request, "already subscribed");
    // Fail now rather than wait in silence: no broker, or no such topic.
    CAIRN_RETURN_IF_ERROR(cluster_.refresh(membership.topics));
    for (const auto& topic : membership.topics) {
      auto partitions = cluster_.partition_count(topic);
      if (!partitions.ok()) return partitions.status();
    }
    listener_ = std::move(listener);
    membership_ = std::make_unique<client::GroupMembership>(cluster_, reachability_, std::move(membership));
    last_commit_ = SteadyClock::now();
    return {};
  }

  // Offsets to commit and the group membership they were read under.
  struct Positions {
    std::map<TopicPartition, Offset> offsets;
    uint64_t incarnation = 0;
  };

  Positions consumed_positions() const {
    std::lock_guard lock(mutex_);
    Positions out{{}, incarnation_};
    for (const auto& [tp, state] : partitions_) {
      if (state.position) out.offsets[tp] = *state.position;
    }
    return out;
  }

  uint64_t incarnation() const {
    std::lock_guard lock(mutex_);
    return incarnation_;
  }

  Status commit(const Positions& positions, SteadyClock::time_point not_after = SteadyClock::time_point::max()) {
    if (!membership_) {
      return error(ErrorCode::invalid_request, "commits need a group: set group_id and subscribe()");
    }
    return membership_->commit(positions.offsets, positions.incarnation, not_after);
  }

  // A paused partition's records not handed out yet are dropped and its
  // fetches made void; it fetches from its position again once resumed.
  Status set_paused(const std::vector<TopicPartition>& partitions, bool paused) {
    std::lock_guard lock(mutex_);
    for (const auto& tp : partitions) {
      if (!partitions_.count(tp)) {
        return error(ErrorCode::invalid_request, "{} is not assigned to this consumer", tp);
      }
    }
    for (const auto& tp : partitions) {
      auto& state = partitions_[tp];
      if (state.paused == paused) continue;
      state.paused = paused;
      if (state.position) set_position_locked(tp, state, *state.position);
    }
    return {};
  }

  // Applies the group's target assignment: drops everything if the
  // membership was lost, gives up revoked partitions (after the listener and
  // a commit), then takes new ones at their committed offsets, and tells the
  // coordinator what it now owns.
  Status reconcile() {
    auto target = membership_->target();
    if (target.incarnation != incarnation()) lose_partitions(target.incarnation);
    std::set<TopicPartition> owned = owned_partitions();
    const auto& assigned = target.partitions;
    std::vector<TopicPartition> revoked, added;
    std::set_difference(owned.begin(), owned.end(), assigned.begin(), assigned.end(), std::back_inserter(revoked));
    std::set_difference(assigned.begin(), assigned.end(), owned.begin(), owned.end(), std::back_inserter(added));
    if (revoked.empty() && added.empty()) return {};
    if (!revoked.empty()) {
      if (listener_.on_revoked) listener_.on_revoked(revoked);
      if (options_.enable_auto_commit) {
        Positions leaving = consumed_positions();
        std::erase_if(leaving.offsets, [&](const auto& entry) {
          return std::find(revoked.begin(), revoked.end(), entry.first) == revoked.end();
        });
        (void)commit(leaving);  // fenced: the new owner starts at the older commit
      }
      std::lock_guard lock(mutex_);
      for (const auto& tp : revoked) partitions_.erase(tp);
      std::erase_if(ready_, [&](const ConsumerRecord& r) {
        return !partitions_.count({r.topic, r.partition});
      });
    }
    if (!added.empty()) {
      auto committed = look_up_committed(added);
      if (!committed.ok()) return committed.status();
      if (!*committed) {
        added.clear();  // taken once the committed offsets can be read
      } else {
        std::lock_guard lock(mutex_);
        for (const auto& tp : added) {
          auto& state = partitions_[tp];
          state.epoch = ++last_epoch_;
          auto it = (*committed)->find(tp);
          if (it != (*committed)->end()) set_position_locked(tp, state, it->second);
        }
      }
    }
    if (!added.empty() && listener_.on_assigned) listener_.on_assigned(added);
    membership_->set_owned(owned_partitions(), target.incarnation);
    return {};
  }

  std::set<TopicPartition> owned_partitions() const {
    std::lock_guard lock(mutex_);
    std::set<TopicPartition> out;
    for (const auto& [tp, state] : partitions_) out.insert(tp);
    return out;
  }

  // The group's committed offsets of partitions to take; none (no value)
  // while the brokers cannot say, retried after a backoff.
  Result<std::optional<std::map<TopicPartition, Offset>>> look_up_committed(
      const std::vector<TopicPartition>& partitions) {
    if (lookup_backoff_waiting()) return std::optional<std::map<TopicPartition, Offset>>();
    auto committed = membership_->committed({partitions.begin(), partitions.end()});
    if (Status failed = note_lookup(committed.status()); !failed.ok()) return failed;
    if (!committed.ok()) return std::optional<std::map<TopicPartition, Offset>>();
    return std::optional(std::move(*committed));
  }

  // The membership was lost (fenced, or its session lapsed): what this
  // consumer held may be another member's by now, so the partitions are
  // dropped with their positions and records not yet handed out, nothing
  // committed; taken again when assigned, at the group's committed offsets.
  void lose_partitions(uint64_t incarnation) {
    std::vector<TopicPartition> lost;
    {
      std::lock_guard lock(mutex_);
      for (const auto& [tp, state] : partitions_) lost.push_back(tp);
      partitions_.clear();  // fetches in flight for them are void
      ready_.clear();
      incarnation_ = incarnation;
    }
    if (!lost.empty() && listener_.on_lost) listener_.on_lost(lost);
  }

  void auto_commit() {
    if (!options_.enable_auto_commit ||
        SteadyClock::now() - last_commit_ < std::chrono::milliseconds(options_.auto_commit_interval_ms)) {
      return;
    }
    last_commit_ = SteadyClock::now();
    (void)commit_sync();  // a failed auto-commit is retried at the next interval
  }

  void set_position_locked(const TopicPartition& tp, PartitionState& state, Offset offset) {
    state.out_of_range.reset();
    state.position = offset;
    state.fetch_offset = offset;
    state.epoch = ++last_epoch_;
    std::erase_if(ready_, [&](const ConsumerRecord& r) {
      return r.topic == tp.topic && r.partition == tp.partition;
    });
  }

  Result<Offset> look_up(const TopicPartition& tp, OffsetSpec spec) {
    if (!admin_) {
      auto admin = Admin::connect(options_.client);
      if (!admin.ok()) return admin.status();
      admin_ = std::move(*admin);
    }
    return admin_->list_offset(tp.topic, tp.partition, spec);
  }

  // Blocks, as a seek does, while a leader is being elected or a broker
  // restarts, up to the request timeout. A topic or partition not found is
  // looked for only a moment: a topic just created reaches every broker's
  // metadata within it, and a mistyped one should fail soon.
  Status seek_with(const std::vector<TopicPartition>& partitions, OffsetSpec spec) {
    constexpr auto kNewTopicGrace = std::chrono::seconds(2);
    auto start = SteadyClock::now();
    auto give_up = start + std::chrono::milliseconds(options_.client.request_timeout_ms);
    auto passing = [&](const Status& s) {
      if (s.code() == ErrorCode::unknown_topic_or_partition) return SteadyClock::now() < start + kNewTopicGrace;
      return s.code() == ErrorCode::not_leader || s.code() == ErrorCode::broker_unavailable ||
             s.code() == ErrorCode::request_timed_out;
    };
    for (const auto& tp : partitions) {
      auto offset = look_up(tp, spec);
      for (int attempt = 1; !offset.ok() && passing(offset.status()) && SteadyClock::now() < give_up;
           ++attempt) {
        std::this_thread::sleep_for(client::retry_backoff(options_.client, attempt));
        offset = look_up(tp, spec);
      }
      if (!offset.ok()) return offset.status();
      CAIRN_RETURN_IF_ERROR(seek(tp, *offset));
    }
    return {};
  }

  // Gives partitions without a position one, per auto_offset_reset, and
  // reports those that replace a position outside the log.
  Status resolve_positions() {
    std::vector<TopicPartition> unresolved;
    {
      std::lock_guard lock(mutex_);
      for (const auto& [tp, state] : partitions_) {
        if (!state.position) unresolved.push_back(tp);
      }
    }
    std::vector<PositionReset> resets;
    for (const auto& tp : unresolved) {
      if (options_.auto_offset_reset == OffsetReset::none) {
        return error(ErrorCode::offset_out_of_range,
                     "{} has no position and auto_offset_reset is none: seek first", tp);
      }
      if (lookup_backoff_waiting()) break;
      auto offset = look_up(tp, options_.auto_offset_reset == OffsetReset::earliest
                                    ? OffsetSpec::earliest()
                                    : OffsetSpec::latest());
      CAIRN_RETURN_IF_ERROR(note_lookup(offset.status()));
      if (!offset.ok()) break;  // retried after a backoff
      std::lock_guard lock(mutex_);
      auto it = partitions_.find(tp);
      if (it == partitions_.end() || it->second.position) continue;
      if (it->second.out_of_range) resets.push_back({tp, *it->second.out_of_range, *offset});
      set_position_locked(tp, it->second, *offset);
    }
    if (options_.on_offset_reset) {
      for (const auto& r : resets) options_.on_offset_reset(r.tp, r.out_of_range, r.reset_to);
    }
    return {};
  }

  bool lookup_backoff_waiting() const {
    std::lock_guard lock(mutex_);
    return lookup_backoff_.waiting(SteadyClock::now());
  }

  // Records how an offset lookup went: a failure that may pass (brokers
  // unreachable or restarting) is retried after a backoff; others are
  // returned to fail the poll.
  Status note_lookup(const Status& status) {
    std::lock_guard lock(mutex_);
    if (status.ok()) {
      lookup_backoff_.succeeded();
      reachability_.answered();
      return {};
    }
    if (!is_retriable(status.code())) return status;
    lookup_backoff_.failed(options_.client, SteadyClock::now());
    reachability_.failed(status);
    return {};
  }

  // When the earliest retry waiting for a backoff is due (far off if none).
  SteadyClock::time_point next_retry_locked() const {
    auto next = SteadyClock::time_point::max();
    auto now = SteadyClock::now();
    if (lookup_backoff_.waiting(now)) next = lookup_backoff_.retry_at();
    for (const auto& [address, backoff] : fetch_backoff_) {
      if (backoff.waiting(now)) next = std::min(next, backoff.retry_at());
    }
    return next;
  }

  // One fetch per broker in flight, and a bounded backlog of responses.
  void start_fetches_locked() {
    if (closed_ || completed_.size() >= kMaxPrefetchedResponses) return;
    std::map<std::string, std::unique_ptr<Fetch>> fetches;
    auto now = SteadyClock::now();
    for (const auto& [tp, state] : partitions_) {
      if (!state.position || state.paused) continue;
      auto leader = cluster_.leader(tp);  // Cluster paces refreshes that fail
      if (!leader.ok()) {
        if (is_retriable(leader.status().code())) {
          lookup_backoff_.failed(options_.client, now);  // to look again then
          reachability_.failed(leader.status());
        } else {
          fail_locked(leader.status());
        }
        continue;
      }
      const std::string& address = (*leader)->address;
      if (in_flight_.count(address) || fetch_backoff_[address].waiting(now)) continue;
      auto& fetch = fetches[address];
      if (!fetch) {
        fetch = std::make_unique<Fetch>();
        fetch->address = address;
        fetch->connection = *leader;
        fetch->request.set_max_wait_ms(options_.fetch_max_wait_ms);
        fetch->request.set_min_bytes(options_.fetch_min_bytes);
        fetch->request.set_max_bytes(options_.fetch_max_bytes);
      }
      auto* p = fetch->request.add_partitions();
      p->set_topic(tp.topic);
      p->set_partition(tp.partition);
      p->set_offset(state.fetch_offset.value);
      p->set_max_bytes(options_.partition_max_bytes);
      fetch->epochs[tp] = state.epoch;
    }
    for (auto& [address, fetch] : fetches) {
      fetch->context.set_deadline(std::chrono::system_clock::now() +
                                  std::chrono::milliseconds(options_.fetch_max_wait_ms +
                                                            options_.client.request_timeout_ms));
      Fetch* raw = fetch.get();
      in_flight_[address] = std::move(fetch);
      raw->connection->broker->async()->Fetch(&raw->context, &raw->request, &raw->response,
                                            [this, raw](grpc::Status status) { on_fetched(raw, status); });
    }
  }

  // On a gRPC thread: advance fetch offsets and keep the pipeline going.
  void on_fetched(Fetch* raw, const grpc::Status& status) {
    std::lock_guard lock(mutex_);
    auto node = in_flight_.extract(raw->address);
    std::unique_ptr<Fetch> fetch = std::move(node.mapped());
    fetch->status = status;
    if (!status.ok()) {
      if (status.error_code() != grpc::StatusCode::CANCELLED) {  // cancelled: closing
        fetch_backoff_[fetch->address].failed(options_.client, SteadyClock::now());
        reachability_.failed(error(from_grpc(status).code(), "fetch from {}: {}", fetch->address,
                                   status.error_message()));
      }
    } else {
      fetch_backoff_[fetch->address].succeeded();
      reachability_.answered();
      for (const auto& p : fetch->response.partitions()) {
        TopicPartition tp{p.topic(), p.partition()};
        auto it = partitions_.find(tp);
        if (it == partitions_.end() || it->second.epoch != fetch->epochs[tp]) continue;
        if (p.error().code() == v1::NONE) it->second.fetch_offset = Offset(p.next_offset());
      }
    }
    completed_.push_back(std::move(fetch));
    if (!closed_) start_fetches_locked();
    arrived_.notify_all();
  }

  void process_locked(Fetch& fetch) {
    if (!fetch.status.ok()) {
      if (fetch.status.error_code() != grpc::StatusCode::CANCELLED) {
        // Unreachable broker: metadata may have moved on.
        for (const auto& [tp, epoch] : fetch.epochs) cluster_.invalidate(tp.topic);
      }
      return;
    }
    for (auto& p : *fetch.response.mutable_partitions()) {
      TopicPartition tp{p.topic(), p.partition()};
      auto it = partitions_.find(tp);
      if (it == partitions_.end() || it->second.epoch != fetch.epochs[tp]) continue;
      Status status = from_proto(p.error());
      if (status.code() == ErrorCode::offset_out_of_range) {
        out_of_range_locked(tp, it->second, status);
        continue;
      }
      if (!status.ok()) {
        if (is_retriable(status.code())) {
          cluster_.invalidate(tp.topic);
          fetch_backoff_[fetch.address].failed(options_.client, SteadyClock::now());
        } else {
          fail_locked(error(status.code(), "{} at offset {}: {}", tp, *it->second.position, status.message()));
        }
        continue;
      }
      decode_into_ready_locked(tp, it->second, p.batches());
    }
  }

  // The broker says the partition's position is outside its log: without a
  // reset policy that is the application's to handle, at every poll until it
  // seeks; else resolve_positions() moves it and reports the move.
  void out_of_range_locked(const TopicPartition& tp, PartitionState& state, const Status& status) {
    if (options_.auto_offset_reset == OffsetReset::none) {
      fail_locked(error(ErrorCode::offset_out_of_range, "{} at offset {}: {}; seek to a valid offset",
                        tp, *state.position, status.message()));
      return;
    }
    state.out_of_range = state.position;
    state.position.reset();
    state.epoch = ++last_epoch_;
  }

  // Keeps the first failure until poll() reports it.
  void fail_locked(Status status) {
    if (failure_.ok()) failure_ = std::move(status);
  }

  // Decodes fetched batches into ready_, from the partition's position on.
  // A batch that does not decode is never skipped: the partition fetches
  // from it again (a fetch already past it is void) and poll() reports it
  // after the records before it; seeking past it is the application's call.
  void decode_into_ready_locked(const TopicPartition& tp, PartitionState& state,
                                const std::string& bytes) {
    auto fetched = client::decode_fetched(tp, *state.position, as_bytes(bytes));
    for (auto& r : fetched.records) ready_.push_back({tp.topic, tp.partition, std::move(r)});
    if (!fetched.failure.ok()) stop_at_locked(state, fetched.next, std::move(fetched.failure));
  }

  void stop_at_locked(PartitionState& state, Offset next, Status why) {
    state.fetch_offset = next;
    state.epoch = ++last_epoch_;
    fail_locked(std::move(why));
  }

  std::vector<ConsumerRecord> take_ready_locked() {
    size_t n = std::min(ready_.size(), static_cast<size_t>(std::max(1, options_.max_poll_records)));
    std::vector<ConsumerRecord> out;
    out.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      ConsumerRecord& r = ready_.front();
      auto it = partitions_.find({r.topic, r.partition});
      if (it != partitions_.end()) it->second.position = r.record.offset + 1;
      out.push_back(std::move(r));
      ready_.pop_front();
    }
    return out;
  }

  const ConsumerOptions options_;
  client::Cluster cluster_;
  client::Reachability reachability_;  // thread-safe itself
  std::unique_ptr<Admin> admin_;
  std::unique_ptr<client::GroupMembership> membership_;
  RebalanceListener listener_;
  SteadyClock::time_point last_commit_;
  std::vector<std::future<void>> async_commits_;  // awaited at close()

  mutable std::mutex mutex_;
  std::condition_variable arrived_;
  std::map<TopicPartition, PartitionState> partitions_;
  std::map<std::string, std::unique_ptr<Fetch>> in_flight_;  // by broker address
  // Retriable failures are retried after a backoff: fetches per broker, and
  // lookups (leaders, offsets, committed offsets).
  std::map<std::string, client::Backoff> fetch_backoff_;
  client::Backoff lookup_backoff_;
  std::deque<std::unique_ptr<Fetch>> completed_;
  std::deque<ConsumerRecord> ready_;
  uint64_t last_epoch_ = 0;  // epochs come from this one counter, so none is reused
  uint64_t incarnation_ = 0;  // of the group membership partitions_ was assigned under
  Status failure_;
  bool woken_ = false;  // by wakeup(), until a poll() returns woken_up
  bool closed_ = false;
};

}  // namespace

Result<std::unique_ptr<Consumer>> Consumer::create(ConsumerOptions options) {
  CAIRN_RETURN_IF_ERROR(client::check_client_options(options.client));
  if (options.reconnect_timeout_ms < 1) return error(ErrorCode::invalid_config, "reconnect_timeout_ms >= 1 is required");
  return std::unique_ptr<Consumer>(new ConsumerImpl(std::move(options)));
}

}  // namespace cairn
