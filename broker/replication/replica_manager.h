#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "broker/replication/raft_service.h"
#include "broker/replication/raft_transport.h"
#include "broker/replication/replica.h"

namespace cairn::broker {

// A broker of the cluster, as the replication layer knows it.
struct PeerBroker {
  int32_t id;
  std::string address;  // host:port of its gRPC listener
};

// The Raft side of one broker: its transport to the peers, the service they
// stream to, the replicas it hosts (routing each received message to its
// group's replica) and the one timer that ticks them all: every tick
// interval it ticks the replicas whose Replica::tick_due() has come, so a
// thousand idle replicas cost a thousand atomic reads per tick, not a
// thousand calls into consensus.
//
// Thread-safe. Replicas are held weakly: a partition that closes simply
// stops getting ticks and messages.
class ReplicaManager {
 public:
  struct Options {
    int32_t self = 0;
    std::vector<PeerBroker> peers;  // every other broker (more: set_peer)
    raft::RaftOptions raft;         // timeouts and limits; self and voters are set per group
    std::string cluster_id;         // RaftFrame.cluster_id; empty: unchecked (tests)
  };

  ReplicaManager(Options options, asio::io_context& io);
  ~ReplicaManager();  // stops the ticker

  // What a replica of `tp` on this broker needs, with `voters` (broker ids,
  // this one among them) as the group's founding members, the first its
  // preferred leader; `topic_id` the incarnation of the topic
  // (RaftGroupId.topic_id).
  ReplicaSetup setup_for(const TopicPartition& tp, const std::vector<int32_t>& voters,
                         std::unique_ptr<raft::DurableState> durable, int64_t topic_id = 0);
  // Streams to a broker at `address` from now on (a new peer, or one that moved).
  void set_peer(const PeerBroker& peer) { transport_.set_peer(peer.id, peer.address); }
  // Routes `tp`'s messages of incarnation `topic_id` to `replica` and ticks
  // it; messages of other incarnations are dropped.
  void add(const TopicPartition& tp, std::weak_ptr<Replica> replica, int64_t topic_id = 0);
  void remove(const TopicPartition& tp);

  // Register with the broker's gRPC server (and its keepalive policy:
  // RaftService::allow_peer_keepalive).
  RaftService& service() { return service_; }
  RaftTransport& transport() { return transport_; }
  int64_t messages_for_unknown_groups() const { return unknown_groups_.load(); }

 private:
  using Routed = std::vector<std::pair<std::shared_ptr<Replica>, raft::Message>>;
  void deliver(std::vector<AddressedMessage> frame);
  void schedule_tick();
  void arm_locked();  // ticker_->mutex held
  void tick_all();

  const Options options_;
  asio::io_context& io_;
  RaftTransport transport_;
  RaftService service_;
  std::mutex mutex_;
  struct Hosted {
    std::weak_ptr<Replica> replica;
    int64_t topic_id = 0;
    std::shared_ptr<const std::atomic<int64_t>> tick_due;  // Replica::tick_due()
  };
  std::map<TopicPartition, Hosted> replicas_;  // guarded by mutex_
  std::atomic<int64_t> unknown_groups_{0};
  raft::SteadyClock clock_;  // the replicas' clock (Replica::tick_due)
  // Shared with the timer's handler, which may run after the manager is
  // gone: it checks `stopped` first, and the destructor waits out a tick
  // in progress.
  struct Ticker {
    std::mutex mutex;
    std::condition_variable idle;
    bool stopped = false;
    bool ticking = false;
  };
  std::shared_ptr<Ticker> ticker_ = std::make_shared<Ticker>();
  asio::steady_timer timer_;  // guarded by ticker_->mutex
};

}  // namespace cairn::broker
