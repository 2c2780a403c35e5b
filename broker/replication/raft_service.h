#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "broker/raft/messages.h"
#include "cairn/v1/raft.grpc.pb.h"
#include "proto/grpc_process.h"
#include "proto/topic_partition.h"

namespace cairn::broker {

// A message off a peer's stream, with the group it is for.
struct AddressedMessage {
  TopicPartition group;
  int64_t topic_id = 0;  // the incarnation of the group's topic (RaftGroupId.topic_id)
  raft::Message message;
};

// Receives the Raft streams of peer brokers (RaftTransport sends them) and
// hands the messages of each frame, in order, to `deliver` in one call, on
// a gRPC thread: it must only queue them for their groups' executors,
// never run consensus itself. One call per frame, not per message: an idle
// peer's heartbeats for a thousand groups arrive as a few frames, and
// their cost should be a few hand-offs, not a thousand.
//
// A message that does not decode (raft_codec.h) is dropped and counted,
// and the stream goes on; a frame meant for another broker id ends its
// stream with FAILED_PRECONDITION (a peer list that points at the wrong
// address must not feed one broker's groups another's traffic), and so
// does a frame from a broker of another cluster (a different cluster id:
// brokers given disagreeing controller voters).
class RaftService final : public v1::Raft::CallbackService {
 public:
  // A frame's messages that decoded, in the order they were sent; never empty.
  using Deliver = std::function<void(std::vector<AddressedMessage> frame)>;

  struct Stats {
    int64_t frames_received = 0;
    int64_t messages_received = 0;
    int64_t messages_malformed = 0;
  };

  // `cluster_id` empty: frames are not checked for one (tests).
  RaftService(int32_t self, Deliver deliver, std::string cluster_id = {})
      : self_(self), deliver_(std::move(deliver)), cluster_id_(std::move(cluster_id)) {
    prepare_grpc_process();
  }

  grpc::ServerReadReactor<v1::RaftFrame>* Send(grpc::CallbackServerContext* context,
                                               v1::RaftSendSummary* summary) override;

  Stats stats() const;

  // Lets peers' keepalive pings through (RaftTransport pings every few
  // seconds to find a vanished peer); call on the broker's ServerBuilder.
  static void allow_peer_keepalive(grpc::ServerBuilder& builder);

 private:
  class Reader;

  const int32_t self_;
  const Deliver deliver_;
  const std::string cluster_id_;
  std::atomic<int64_t> foreign_frames_{0};
  std::atomic<int64_t> frames_received_{0};
  std::atomic<int64_t> messages_received_{0};
  std::atomic<int64_t> messages_malformed_{0};
};

}  // namespace cairn::broker
