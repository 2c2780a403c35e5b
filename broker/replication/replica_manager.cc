#include "broker/replication/replica_manager.h"

#include <asio/post.hpp>

namespace cairn::broker {
namespace {

// See ReplicaManager::deliver.
constexpr size_t kMessagesPerTask = 64;

bool carries_entries(const raft::Message& message) {
  if (const auto* append = std::get_if<raft::AppendRequest>(&message)) return !append->entries.empty();
  return std::holds_alternative<raft::JumpRequest>(message);
}

RaftTransport::Options transport_options(std::string cluster_id) {
  RaftTransport::Options options;
  options.cluster_id = std::move(cluster_id);
  return options;
}

}  // namespace

ReplicaManager::ReplicaManager(Options options, asio::io_context& io)
    : options_(std::move(options)),
      io_(io),
      transport_(options_.self, io, transport_options(options_.cluster_id)),
      service_(options_.self, [this](std::vector<AddressedMessage> frame) { deliver(std::move(frame)); },
               options_.cluster_id),
      timer_(io) {
  for (const auto& peer : options_.peers) transport_.set_peer(peer.id, peer.address);
  schedule_tick();
}

ReplicaManager::~ReplicaManager() {
  std::unique_lock lock(ticker_->mutex);
  ticker_->stopped = true;
  timer_.cancel();
  ticker_->idle.wait(lock, [&] { return !ticker_->ticking; });
}

ReplicaSetup ReplicaManager::setup_for(const TopicPartition& tp, const std::vector<int32_t>& voters,
                                       std::unique_ptr<raft::DurableState> durable,
                                       int64_t topic_id) {
  ReplicaSetup setup;
  setup.raft = options_.raft;
  setup.raft.self = raft::NodeId(options_.self);
  setup.raft.initial_voters.clear();
  for (int32_t id : voters) setup.raft.initial_voters.push_back(raft::NodeId(id));
  // Different brokers draw different election timeouts for the same group.
  setup.raft.random_seed =
      std::hash<std::string>{}(tp.topic) * 31 + uint64_t(tp.partition) * 7919 + uint64_t(options_.self);
  setup.durable = std::move(durable);
  setup.transport = transport_.for_group(tp, topic_id);
  setup.io = &io_;
  if (!voters.empty()) setup.preferred_leader = voters.front();
  // A new partition is led by its preferred replica from the start.
  setup.raft.campaign_first = setup.preferred_leader == options_.self;
  return setup;
}

void ReplicaManager::add(const TopicPartition& tp, std::weak_ptr<Replica> replica,
                         int64_t topic_id) {
  auto strong = replica.lock();
  if (!strong) return;
  std::lock_guard lock(mutex_);
  replicas_[tp] = {std::move(replica), topic_id, strong->tick_due()};
}

void ReplicaManager::remove(const TopicPartition& tp) {
  std::lock_guard lock(mutex_);
  replicas_.erase(tp);
}

void ReplicaManager::deliver(std::vector<AddressedMessage> frame) {
  Routed routed;
  routed.reserve(frame.size());
  {
    std::lock_guard lock(mutex_);
    for (auto& addressed : frame) {
      auto it = replicas_.find(addressed.group);
      std::shared_ptr<Replica> replica;
      if (it != replicas_.end() && it->second.topic_id == addressed.topic_id) replica = it->second.replica.lock();
      if (!replica) {
        // Not hosted here (yet, or any more), or another incarnation of its
        // topic: Raft retries.
        ++unknown_groups_;
        continue;
      }
      routed.emplace_back(std::move(replica), std::move(addressed.message));
    }
  }
  // Off the gRPC thread: consensus may wait on the log (a truncation behind
  // an fsync), and a slow group must not hold up the stream every group
  // with this peer shares. A task takes up to kMessagesPerTask messages: a
  // frame of heartbeats for a thousand groups is a few hand-offs, not a
  // thousand (an idle broker's cost), and a group whose handling blocks
  // holds up few others. A message with entries, the slow kind, goes alone.
  // Raft tolerates the reordering the pool's threads may cause.
  Routed task;
  auto post_task = [&] {
    if (task.empty()) return;
    asio::post(io_, [messages = std::move(task)] {
      for (const auto& [replica, message] : messages) replica->handle(message);
    });
    task = Routed();
  };
  for (auto& entry : routed) {
    bool alone = carries_entries(entry.second);
    if (alone) post_task();
    task.push_back(std::move(entry));
    if (alone || task.size() >= kMessagesPerTask) post_task();
  }
  post_task();
}

void ReplicaManager::schedule_tick() {
  std::lock_guard lock(ticker_->mutex);
  arm_locked();
}

void ReplicaManager::arm_locked() {
  if (ticker_->stopped) return;
  timer_.expires_after(std::chrono::milliseconds(options_.raft.tick_interval_ms));
  // Touches `this` only while the ticker says the manager lives.
  timer_.async_wait([this, ticker = ticker_](const std::error_code& ec) {
    {
      std::lock_guard lock(ticker->mutex);
      if (ec || ticker->stopped) return;
      ticker->ticking = true;
    }
    tick_all();
    std::lock_guard lock(ticker->mutex);
    ticker->ticking = false;
    arm_locked();
    ticker->idle.notify_all();
  });
}

void ReplicaManager::tick_all() {
  std::vector<std::shared_ptr<Replica>> due;
  {
    int64_t now = clock_.now_ms();
    std::lock_guard lock(mutex_);
    for (auto it = replicas_.begin(); it != replicas_.end();) {
      if (it->second.replica.expired()) {
        it = replicas_.erase(it);
        continue;
      }
      if (it->second.tick_due->load(std::memory_order_relaxed) <= now) {
        if (auto replica = it->second.replica.lock()) due.push_back(std::move(replica));
      }
      ++it;
    }
  }
  for (auto& replica : due) replica->tick();
}

}  // namespace cairn::broker
