#include "broker/broker_service.h"

#include <spdlog/spdlog.h>

#include "broker/fetch_operation.h"
#include "broker/listen_address.h"
#include "broker/produce_stream.h"
#include "proto/rpc_error.h"

namespace cairn::broker {

constexpr const char* kProduceBudgetExhausted =
    "the broker has too many produce bytes awaiting acknowledgement; retry with backoff";

BrokerService::BrokerService(const BrokerConfig& config, TopicManager& topics,
                             asio::io_context& io, int32_t advertised_port,
                             const Controller* controller, BrokerMetrics& metrics,
                             ProducerIdAllocator& producer_ids)
    : config_(config), topics_(topics), controller_(controller), io_(io),
      advertised_port_(advertised_port), metrics_(metrics), producer_ids_(producer_ids),
      produce_(config, topics, io, metrics) {}

grpc::ServerUnaryReactor* BrokerService::Produce(grpc::CallbackServerContext* context,
                                                 const v1::ProduceRequest* request,
                                                 v1::ProduceResponse* response) {
  auto* reactor = context->DefaultReactor();
  if (request->partitions().empty()) {
    reactor->Finish({grpc::StatusCode::INVALID_ARGUMENT,
                     "a produce request needs at least one partition with data"});
    return reactor;
  }
  if (!produce_.handle(*request, response, [reactor] { reactor->Finish(grpc::Status::OK); })) {
    reactor->Finish({grpc::StatusCode::RESOURCE_EXHAUSTED, kProduceBudgetExhausted});
  }
  return reactor;
}

grpc::ServerBidiReactor<v1::ProduceRequest, v1::ProduceResponse>* BrokerService::ProduceStream(
    grpc::CallbackServerContext* context) {
  return new ProduceStreamReactor(produce_, context);
}

grpc::ServerUnaryReactor* BrokerService::Fetch(grpc::CallbackServerContext* context,
                                               const v1::FetchRequest* request,
                                               v1::FetchResponse* response) {
  auto* reactor = context->DefaultReactor();
  if (request->partitions().empty()) {
    reactor->Finish({grpc::StatusCode::INVALID_ARGUMENT, "a fetch needs at least one partition"});
    return reactor;
  }
  FetchLimits limits{config_.max_fetch_wait_ms, static_cast<size_t>(config_.fetch_max_bytes),
                     static_cast<size_t>(config_.max_request_bytes)};
  auto arrived = std::chrono::steady_clock::now();
  auto op = std::make_shared<FetchOperation>(
      topics_, io_, request, response,
      [this, reactor, response, arrived] {
        metrics_.fetch_answered(*response, std::chrono::steady_clock::now() - arrived);
        reactor->Finish(grpc::Status::OK);
      },
      limits, shutting_down_);
  op->start();
  return reactor;
}

void BrokerService::answer_offset(const v1::OffsetQuery& query, v1::OffsetAnswer* answer) {
  answer->set_topic(query.topic());
  answer->set_partition(query.partition());
  auto partition = topics_.partition({query.topic(), query.partition()});
  if (!partition) {
    to_proto(error(ErrorCode::unknown_topic_or_partition, "{}/{} does not exist", query.topic(),
                   query.partition()),
             answer->mutable_error());
    return;
  }
  Offset high_watermark = partition->high_watermark();
  switch (query.spec_case()) {
    case v1::OffsetQuery::kEarliest:
      answer->set_offset(partition->log_start().value);
      return;
    case v1::OffsetQuery::kTimestampMs: {
      auto found = partition->offset_for_time(query.timestamp_ms());
      if (!found.ok()) {
        to_proto(found.status(), answer->mutable_error());
        return;
      }
      Offset offset = found->value_or(high_watermark);
      answer->set_offset(std::min(offset, high_watermark).value);
      return;
    }
    case v1::OffsetQuery::kLatest:
    case v1::OffsetQuery::SPEC_NOT_SET:
      answer->set_offset(high_watermark.value);
      return;
  }
}

grpc::ServerUnaryReactor* BrokerService::ListOffsets(grpc::CallbackServerContext* context,
                                                     const v1::ListOffsetsRequest* request,
                                                     v1::ListOffsetsResponse* response) {
  for (const auto& query : request->queries()) answer_offset(query, response->add_answers());
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* BrokerService::InitProducerId(grpc::CallbackServerContext* context,
                                                        const v1::InitProducerIdRequest*,
                                                        v1::InitProducerIdResponse* response) {
  // One synced write per thousand ids (ProducerIdAllocator): rare enough
  // for a callback thread.
  auto id = producer_ids_.next();
  if (id.ok()) {
    response->set_producer_id(*id);
    response->set_producer_epoch(0);
  } else {
    to_proto(id.status(), response->mutable_error());
  }
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* BrokerService::Metadata(grpc::CallbackServerContext* context,
                                                  const v1::MetadataRequest* request,
                                                  v1::MetadataResponse* response) {
  describe_brokers(response);
  auto describe = [&](const Topic& topic) {
    auto* info = response->add_topics();
    info->set_name(topic.name);
    for (int32_t p = 0; p < static_cast<int32_t>(topic.partitions.size()); ++p) {
      auto* out = info->add_partitions();
      out->set_partition(p);
      out->set_leader(topic.leader_of(p, config_.node_id));
      for (int32_t id : topic.replicas_of(p, config_.node_id)) out->add_replicas(id);
    }
  };
  if (request->topics().empty()) {
    for (const auto& topic : topics_.topics()) describe(topic);
  } else {
    for (const auto& name : request->topics()) {
      if (request->allow_auto_topic_creation() && config_.auto_create_topics) {
        topics_.create_on_first_use(name, config_.default_partitions);
      }
      if (auto topic = topics_.topic(name)) {
        describe(*topic);
      } else {
        auto* info = response->add_topics();
        info->set_name(name);
        to_proto(error(ErrorCode::unknown_topic_or_partition, "topic '{}' does not exist", name),
                 info->mutable_error());
        // In a cluster the controller creates it moments from now.
        info->set_being_created(request->allow_auto_topic_creation() && config_.auto_create_topics &&
                                controller_ != nullptr && !is_internal_topic(name));
      }
    }
  }
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

void BrokerService::describe_brokers(v1::MetadataResponse* response) const {
  auto add = [&](int32_t id, std::string host, int32_t port) {
    auto* broker = response->add_brokers();
    broker->set_id(id);
    broker->set_host(std::move(host));
    broker->set_port(port);
    broker->set_max_request_bytes(config_.max_request_bytes);
  };
  if (!controller_) {
    add(config_.node_id, config_.listen.substr(0, config_.listen.rfind(':')), advertised_port_);
    response->set_controller_id(config_.node_id);
    return;
  }
  auto live = controller_->live_brokers();
  auto decommissioned = controller_->decommissioned_brokers();
  for (const auto& broker : controller_->voters().brokers) {
    auto address = parse_listen_address(broker.address);
    if (!address.ok()) continue;
    add(broker.id, address->host, address->port);
    auto* info = response->mutable_brokers(response->brokers_size() - 1);
    if (live) info->set_liveness(live->count(broker.id) ? v1::LIVE : v1::NOT_HEARD_FROM);
    info->set_decommissioned(decommissioned.count(broker.id) > 0);
  }
  response->set_controller_id(controller_->leader().value_or(-1));
}

}  // namespace cairn::broker
