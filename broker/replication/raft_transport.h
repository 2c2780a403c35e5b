#pragma once

#include <asio/io_context.hpp>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "broker/raft/transport.h"
#include "proto/topic_partition.h"

namespace cairn::broker {

class PeerLink;

// Sends the Raft messages of every group on this broker to the peer
// brokers (the Raft.Send RPC; RaftService receives them).
//
// One long-lived stream per peer carries all groups. At most one frame is
// being written to a peer at a time, and the next one takes everything
// that queued meanwhile: the heartbeats a tick produces for a thousand
// groups leave as a handful of frames, not a thousand messages, and a busy
// peer gets larger frames rather than more of them. Each peer's queue is
// bounded (messages and bytes) and drops its oldest when full: Raft
// retries on its own timers, so a slow or dead peer costs bounded memory
// and nothing else. A broken stream is redialled with exponential backoff.
//
// Thread-safe: send() may be called from any group's executor.
class RaftTransport {
 public:
  struct Options {
    size_t max_queued_messages = 100'000;  // per peer
    size_t max_queued_bytes = 256 << 20;   // per peer
    size_t max_frame_bytes = 8 << 20;      // a frame always takes at least one message
    int64_t reconnect_min_ms = 50;
    int64_t reconnect_max_ms = 2'000;
    std::string cluster_id;  // sent in every frame (RaftFrame.cluster_id)
  };
  struct Stats {
    int64_t frames_sent = 0;
    int64_t messages_sent = 0;
    int64_t messages_dropped = 0;  // queue full, or the peer is unknown
    int64_t reconnects = 0;
  };

  RaftTransport(int32_t self, asio::io_context& io, Options options);
  RaftTransport(int32_t self, asio::io_context& io) : RaftTransport(self, io, Options()) {}
  ~RaftTransport();  // closes every stream, waiting for each to end
  RaftTransport(const RaftTransport&) = delete;
  RaftTransport& operator=(const RaftTransport&) = delete;

  // Starts streaming to broker `id` at `address` (host:port), or moves it.
  void set_peer(int32_t id, const std::string& address);

  // `topic_id`: the incarnation of the group's topic (RaftGroupId.topic_id).
  void send(int32_t to, const TopicPartition& group, const raft::Message& message,
            int64_t topic_id = 0);
  // A raft::Transport for one group (Raft node ids are broker ids).
  std::unique_ptr<raft::Transport> for_group(TopicPartition group, int64_t topic_id = 0);

  Stats stats() const;

 private:
  const int32_t self_;
  asio::io_context& io_;
  const Options options_;
  mutable std::mutex mutex_;
  std::map<int32_t, std::shared_ptr<PeerLink>> peers_;  // guarded by mutex_
  std::atomic<int64_t> dropped_unknown_peer_{0};
};

}  // namespace cairn::broker
