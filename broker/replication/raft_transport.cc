#include "broker/replication/raft_transport.h"

#include <asio/steady_timer.hpp>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <deque>

#include "broker/replication/raft_codec.h"
#include "cairn/v1/raft.grpc.pb.h"
#include "proto/assert.h"
#include "proto/grpc_process.h"

namespace cairn::broker {

// Keepalive pings find a peer that vanished without closing the connection
// (a partition, a power cut) in seconds rather than at TCP's timeout.
constexpr int kKeepaliveTimeMs = 5'000;
constexpr int kKeepaliveTimeoutMs = 3'000;
// gRPC's own backoff between connection attempts of a channel: from
// kFirstReconnectMs, growing to kMaxReconnectMs.
constexpr int kFirstReconnectMs = 100;
constexpr int kMaxReconnectMs = 1'000;

// The stream to one peer: a queue, at most one frame being written, and the
// redial after a failure. Owned by the transport (shared with its timers).
class PeerLink : public std::enable_shared_from_this<PeerLink> {
 public:
  PeerLink(int32_t self, int32_t peer, std::string address, asio::io_context& io,
           const RaftTransport::Options& options)
      : self_(self), peer_(peer), address_(std::move(address)), io_(io), options_(options) {}

  void start() { connect(); }

  void enqueue(v1::RaftEnvelope envelope) {
    std::unique_lock lock(mutex_);
    size_t bytes = envelope.ByteSizeLong();
    while (!queue_.empty() && (queue_.size() >= options_.max_queued_messages ||
                               queued_bytes_ + bytes > options_.max_queued_bytes)) {
      queued_bytes_ -= queue_.front().bytes;
      queue_.pop_front();
      ++stats_.messages_dropped;
    }
    queue_.push_back({std::move(envelope), bytes});
    queued_bytes_ += bytes;
    pump(lock);
  }

  // Ends the stream and waits until gRPC is done with it.
  void close() {
    std::unique_lock lock(mutex_);
    closing_ = true;
    if (timer_) timer_->cancel();
    done_.wait(lock, [&] { return !starting_; });
    Stream* stream = stream_;
    if (!stream) return;
    stream->context.TryCancel();
    // A write in flight releases the hold when it completes.
    bool release = !writing_ && take_hold();
    lock.unlock();
    if (release) stream->RemoveHold();
    lock.lock();
    done_.wait(lock, [&] { return stream_ == nullptr; });
  }

  RaftTransport::Stats stats() {
    std::lock_guard lock(mutex_);
    return stats_;
  }

 private:
  struct Queued {
    v1::RaftEnvelope envelope;
    size_t bytes;
  };

  class Stream final : public grpc::ClientWriteReactor<v1::RaftFrame> {
   public:
    explicit Stream(PeerLink& link) : link_(link) {}
    void OnWriteDone(bool ok) override { link_.on_write_done(ok); }
    void OnDone(const grpc::Status& status) override {
      link_.on_stream_done(status);
      delete this;
    }
    grpc::ClientContext context;
    v1::RaftSendSummary summary;
    v1::RaftFrame frame;

   private:
    PeerLink& link_;
  };

  void connect() {
    std::unique_lock lock(mutex_);
    if (closing_ || stream_) return;
    if (!stub_) {
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveTimeMs);
      args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveTimeoutMs);
      args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
      args.SetInt(GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, -1);
      // gRPC's default reconnect backoff grows to 2 minutes: a broker whose
      // peer was down a while (killed, restarted, killed again) would not
      // reconnect to it for up to that long after it is back, and its
      // replicas fall behind meanwhile. A peer is retried at least every
      // second; one that was refused once (a cluster's brokers starting
      // together) again after 100 ms, not after a second: the new cluster's
      // controller is elected on its preferred broker's first campaigns,
      // which last two election timeouts, not after a handover seconds later.
      args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, kFirstReconnectMs);
      args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, kFirstReconnectMs);
      args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kMaxReconnectMs);
      stub_ = v1::Raft::NewStub(
          grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(), args));
    }
    auto* stream = new Stream(*this);
    stream_ = stream;
    writing_ = false;
    stub_->async()->Send(&stream->context, &stream->summary, stream);
    // The hold keeps gRPC from ending the call (and deleting the stream)
    // while enqueue() may still start a write from outside a reaction. It
    // goes when a write fails or on close(); OnDone follows.
    stream->AddHold();
    held_ = true;
    // Until StartCall returns, nothing may write or release the hold: a
    // write that failed and dropped the hold could end the call, and
    // delete the stream, before StartCall touched it (gRPC then asserted).
    starting_ = true;
    lock.unlock();
    stream->StartCall();
    lock.lock();
    starting_ = false;
    done_.notify_all();
    pump(lock);
  }

  // Starts the next frame if the stream is idle and messages wait. Releases
  // the lock before calling into gRPC.
  void pump(std::unique_lock<std::mutex>& lock) {
    if (!stream_ || !held_ || starting_ || writing_ || queue_.empty() || closing_) return;
    Stream* stream = stream_;
    v1::RaftFrame& frame = stream->frame;
    frame.Clear();
    frame.set_from_node(self_);
    frame.set_to_node(peer_);
    frame.set_cluster_id(options_.cluster_id);
    size_t bytes = 0;
    while (!queue_.empty() &&
           (frame.messages_size() == 0 || bytes + queue_.front().bytes <= options_.max_frame_bytes)) {
      bytes += queue_.front().bytes;
      queued_bytes_ -= queue_.front().bytes;
      *frame.add_messages() = std::move(queue_.front().envelope);
      queue_.pop_front();
    }
    writing_ = true;
    ++stats_.frames_sent;
    stats_.messages_sent += frame.messages_size();
    lock.unlock();
    stream->StartWrite(&frame);
    lock.lock();
  }

  void on_write_done(bool ok) {
    std::unique_lock lock(mutex_);
    writing_ = false;
    if (ok && !closing_) {
      backoff_ms_ = 0;
      pump(lock);
      return;
    }
    // The stream broke (or is closing): let the call end; OnDone redials.
    Stream* stream = stream_;
    bool release = take_hold();
    lock.unlock();
    if (release) stream->RemoveHold();
  }

  // Whether the caller is the one to release the stream's hold.
  bool take_hold() { return std::exchange(held_, false); }

  void on_stream_done(const grpc::Status& status) {
    std::unique_lock lock(mutex_);
    stream_ = nullptr;
    writing_ = false;
    if (closing_) {
      done_.notify_all();
      return;
    }
    backoff_ms_ = std::clamp(backoff_ms_ * 2, options_.reconnect_min_ms, options_.reconnect_max_ms);
    if (stats_.reconnects++ == 0 || backoff_ms_ == options_.reconnect_max_ms) {
      spdlog::warn("raft: stream to broker {} at {} ended ({}); redialling in {} ms", peer_,
                   address_, status.error_message(), backoff_ms_);
    }
    timer_ = std::make_unique<asio::steady_timer>(io_, std::chrono::milliseconds(backoff_ms_));
    timer_->async_wait([weak = weak_from_this()](const std::error_code& ec) {
      if (ec) return;
      if (auto link = weak.lock()) link->connect();
    });
  }

  const int32_t self_;
  const int32_t peer_;
  const std::string address_;
  asio::io_context& io_;
  const RaftTransport::Options options_;
  std::unique_ptr<v1::Raft::Stub> stub_;

  std::mutex mutex_;
  std::condition_variable done_;
  std::deque<Queued> queue_;
  size_t queued_bytes_ = 0;
  Stream* stream_ = nullptr;  // deleted by gRPC after OnDone
  bool held_ = false;         // stream_ holds its hold: writes may start
  bool starting_ = false;     // StartCall of stream_ has not returned yet
  bool writing_ = false;
  bool closing_ = false;
  int64_t backoff_ms_ = 0;
  std::unique_ptr<asio::steady_timer> timer_;
  RaftTransport::Stats stats_;
};

namespace {

// One group's view of the transport.
class GroupTransport final : public raft::Transport {
 public:
  GroupTransport(RaftTransport& transport, TopicPartition group, int64_t topic_id)
      : transport_(transport), group_(std::move(group)), topic_id_(topic_id) {}
  void send(raft::NodeId to, raft::Message message) override {
    transport_.send(static_cast<int32_t>(to.value), group_, message, topic_id_);
  }

 private:
  RaftTransport& transport_;
  const TopicPartition group_;
  const int64_t topic_id_;
};

}  // namespace

RaftTransport::RaftTransport(int32_t self, asio::io_context& io, Options options)
    : self_(self), io_(io), options_(options) {
  prepare_grpc_process();
}

RaftTransport::~RaftTransport() {
  std::map<int32_t, std::shared_ptr<PeerLink>> peers;
  {
    std::lock_guard lock(mutex_);
    peers.swap(peers_);
  }
  for (auto& [id, link] : peers) link->close();
}

void RaftTransport::set_peer(int32_t id, const std::string& address) {
  CAIRN_ASSERT(id != self_);
  auto link = std::make_shared<PeerLink>(self_, id, address, io_, options_);
  std::shared_ptr<PeerLink> old;
  {
    std::lock_guard lock(mutex_);
    old = std::exchange(peers_[id], link);
  }
  if (old) old->close();
  link->start();
}

void RaftTransport::send(int32_t to, const TopicPartition& group, const raft::Message& message,
                         int64_t topic_id) {
  std::shared_ptr<PeerLink> link;
  {
    std::lock_guard lock(mutex_);
    auto it = peers_.find(to);
    if (it != peers_.end()) link = it->second;
  }
  if (!link) {
    ++dropped_unknown_peer_;
    return;
  }
  v1::RaftEnvelope envelope;
  envelope.mutable_group()->set_topic(group.topic);
  envelope.mutable_group()->set_partition(group.partition);
  envelope.mutable_group()->set_topic_id(topic_id);
  to_proto(message, &envelope);
  link->enqueue(std::move(envelope));
}

std::unique_ptr<raft::Transport> RaftTransport::for_group(TopicPartition group, int64_t topic_id) {
  return std::make_unique<GroupTransport>(*this, std::move(group), topic_id);
}

RaftTransport::Stats RaftTransport::stats() const {
  Stats total;
  total.messages_dropped = dropped_unknown_peer_;
  std::lock_guard lock(mutex_);
  for (const auto& [id, link] : peers_) {
    Stats s = link->stats();
    total.frames_sent += s.frames_sent;
    total.messages_sent += s.messages_sent;
    total.messages_dropped += s.messages_dropped;
    total.reconnects += s.reconnects;
  }
  return total;
}

}  // namespace cairn::broker
