#include "broker/replication/raft_service.h"

#include <spdlog/spdlog.h>

#include "broker/replication/raft_codec.h"

namespace cairn::broker {

class RaftService::Reader final : public grpc::ServerReadReactor<v1::RaftFrame> {
 public:
  Reader(RaftService& service, v1::RaftSendSummary* summary)
      : service_(service), summary_(summary) {
    StartRead(&frame_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the sender closed the stream, or it broke
      Finish(grpc::Status::OK);
      return;
    }
    if (frame_.to_node() != service_.self_) {
      Finish({grpc::StatusCode::FAILED_PRECONDITION,
              fmt::format("this is broker {}, not {}: check the peer addresses of broker {}",
                          service_.self_, frame_.to_node(), frame_.from_node())});
      return;
    }
    if (!service_.cluster_id_.empty() && frame_.cluster_id() != service_.cluster_id_) {
      std::string why = fmt::format(
          "broker {} was started with --controller-voters {}, this broker {} with {}: every "
          "broker of a cluster must be given the same list",
          frame_.from_node(), frame_.cluster_id().empty() ? "(none)" : frame_.cluster_id(),
          service_.self_, service_.cluster_id_);
      if (service_.foreign_frames_++ % 100 == 0) spdlog::error("raft: refused a peer: {}", why);
      Finish({grpc::StatusCode::FAILED_PRECONDITION, why});
      return;
    }
    ++service_.frames_received_;
    summary_->set_frames(summary_->frames() + 1);
    summary_->set_messages(summary_->messages() + frame_.messages_size());
    std::vector<AddressedMessage> messages;
    messages.reserve(static_cast<size_t>(frame_.messages_size()));
    for (auto& envelope : *frame_.mutable_messages()) decode(envelope, messages);
    if (!messages.empty()) service_.deliver_(std::move(messages));
    StartRead(&frame_);
  }

  void OnDone() override { delete this; }

 private:
  void decode(v1::RaftEnvelope& envelope, std::vector<AddressedMessage>& out) {
    ++service_.messages_received_;
    auto message = from_proto(&envelope);
    if (!message.ok()) {
      if (service_.messages_malformed_++ % 1000 == 0) {
        spdlog::warn("raft: dropped a message from broker {}: {}", frame_.from_node(),
                     message.status().to_string());
      }
      return;
    }
    out.push_back({{envelope.group().topic(), envelope.group().partition()},
                   envelope.group().topic_id(), std::move(*message)});
  }

  RaftService& service_;
  v1::RaftSendSummary* summary_;
  v1::RaftFrame frame_;
};

grpc::ServerReadReactor<v1::RaftFrame>* RaftService::Send(grpc::CallbackServerContext* context,
                                                           v1::RaftSendSummary* summary) {
  return new Reader(*this, summary);
}

RaftService::Stats RaftService::stats() const {
  return {frames_received_.load(), messages_received_.load(), messages_malformed_.load()};
}

void RaftService::allow_peer_keepalive(grpc::ServerBuilder& builder) {
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 1'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
}

}  // namespace cairn::broker
