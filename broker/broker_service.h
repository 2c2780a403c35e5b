#pragma once

#include <asio/io_context.hpp>

#include <atomic>

#include "broker/broker_config.h"
#include "broker/cluster/controller.h"
#include "broker/produce_handler.h"
#include "broker/producer_ids.h"
#include "broker/topic_manager.h"
#include "cairn/v1/broker.grpc.pb.h"

namespace cairn::broker {

// The data path over gRPC: Produce, Fetch, ListOffsets, Metadata.
// Handlers run on gRPC's callback threads and never block on a sync:
// acks=all and long-poll fetches finish from the flusher's callbacks or
// io_context timers. Per-partition failures are typed codes in the response;
// only an unusable request as a whole fails the RPC.
class BrokerService final : public v1::Broker::CallbackService {
 public:
  // `controller` is null on a broker alone.
  BrokerService(const BrokerConfig& config, TopicManager& topics, asio::io_context& io,
                int32_t advertised_port, const Controller* controller, BrokerMetrics& metrics,
                ProducerIdAllocator& producer_ids);

  // Known once the server bound its port.
  void set_advertised_port(int32_t port) { advertised_port_ = port; }
  // From now on, long-poll fetches answer at once.
  void begin_shutdown() { shutting_down_ = true; }

  grpc::ServerUnaryReactor* Produce(grpc::CallbackServerContext* context,
                                    const v1::ProduceRequest* request,
                                    v1::ProduceResponse* response) override;
  grpc::ServerBidiReactor<v1::ProduceRequest, v1::ProduceResponse>* ProduceStream(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* Fetch(grpc::CallbackServerContext* context,
                                  const v1::FetchRequest* request,
                                  v1::FetchResponse* response) override;
  grpc::ServerUnaryReactor* ListOffsets(grpc::CallbackServerContext* context,
                                        const v1::ListOffsetsRequest* request,
                                        v1::ListOffsetsResponse* response) override;
  grpc::ServerUnaryReactor* Metadata(grpc::CallbackServerContext* context,
                                     const v1::MetadataRequest* request,
                                     v1::MetadataResponse* response) override;
  grpc::ServerUnaryReactor* InitProducerId(grpc::CallbackServerContext* context,
                                           const v1::InitProducerIdRequest* request,
                                           v1::InitProducerIdResponse* response) override;

 private:
  void answer_offset(const v1::OffsetQuery& query, v1::OffsetAnswer* answer);
  void describe_brokers(v1::MetadataResponse* response) const;

  const BrokerConfig& config_;
  TopicManager& topics_;
  const Controller* const controller_;
  asio::io_context& io_;
  std::atomic<int32_t> advertised_port_;
  BrokerMetrics& metrics_;
  ProducerIdAllocator& producer_ids_;
  std::atomic<bool> shutting_down_{false};
  ProduceHandler produce_;
};

}  // namespace cairn::broker
