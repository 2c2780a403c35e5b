#include "broker/admin_service.h"

#include <asio/post.hpp>

#include <thread>

#include "broker/share/share_topic_config.h"
#include "cairn/dead_letter.h"
#include "proto/rpc_error.h"

namespace cairn::broker {
namespace {

// Marks a request one broker forwarded to the controller: never forwarded again.
constexpr const char* kForwardedHeader = "cairn-forwarded-by";
// A change takes up to Controller::Options::change_timeout (15 s) there.
constexpr auto kForwardTimeout = std::chrono::seconds(20);
// How long a forward waits for a controller to be elected.
constexpr auto kElectionWait = std::chrono::seconds(5);

grpc::ServerUnaryReactor* finish(grpc::CallbackServerContext* context,
                                 const grpc::Status& status = grpc::Status::OK) {
  auto* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

}  // namespace

AdminService::AdminService(const BrokerConfig& config, TopicManager& topics, Controller* controller)
    : config_(config), topics_(topics), controller_(controller) {}

std::optional<grpc::Status> AdminService::forward_to_controller(grpc::CallbackServerContext* context,
                                                                const AdminCall& call) {
  // Alone, or forwarded here already: answered here (not_leader if the
  // controller moved meanwhile; the client retries).
  if (!controller_ || context->client_metadata().count(kForwardedHeader)) return std::nullopt;
  auto give_up = std::chrono::steady_clock::now() + kElectionWait;
  while (!controller_->leader() && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto leader = controller_->remote_leader();
  if (!leader) return std::nullopt;
  auto [leader_id, stub] = *leader;
  grpc::ClientContext forwarded;
  forwarded.AddMetadata(kForwardedHeader, std::to_string(config_.node_id));
  forwarded.set_deadline(std::min(context->deadline(), std::chrono::system_clock::now() + kForwardTimeout));
  grpc::Status status = call(*stub, forwarded);
  // A deadline passed: the change may or may not have been made; say so as is.
  if (status.ok() || status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) return status;
  return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                      fmt::format("broker {} forwarded the change to the controller, broker {}, "
                                  "which did not answer: {}; retry",
                                  config_.node_id, leader_id, status.error_message()));
}

template <typename Request, typename Response>
grpc::ServerUnaryReactor* AdminService::run_change(grpc::CallbackServerContext* context,
                                                   AdminMethod<Request, Response> method,
                                                   const Request* request, Response* response,
                                                   std::function<void()> handle) {
  auto* reactor = context->DefaultReactor();
  asio::post(changes_, [this, context, reactor, method, request, response, handle = std::move(handle)] {
    auto forwarded = forward_to_controller(context, [&](v1::Admin::Stub& stub, grpc::ClientContext& c) {
      return (stub.*method)(&c, *request, response);
    });
    if (!forwarded) handle();
    reactor->Finish(forwarded.value_or(grpc::Status::OK));
  });
  return reactor;
}

grpc::ServerUnaryReactor* AdminService::CreateTopics(grpc::CallbackServerContext* context,
                                                     const v1::CreateTopicsRequest* request,
                                                     v1::CreateTopicsResponse* response) {
  return run_change(context, &v1::Admin::Stub::CreateTopics, request, response, [this, request, response] {
    for (const auto& spec : request->topics()) {
      auto* result = response->add_results();
      result->set_name(spec.name());
      to_proto(create(spec), result->mutable_error());
    }
  });
}

Status AdminService::create(const v1::TopicSpec& spec) {
  CAIRN_RETURN_IF_ERROR(refuse_if_internal(spec.name(), "create"));
  if (controller_) return controller_->create_topic(spec);
  if (spec.replication_factor() > 1) {
    return error(ErrorCode::invalid_request, "replication factor {} needs a cluster; this broker runs alone",
                 spec.replication_factor());
  }
  int32_t partitions = spec.partitions() > 0 ? spec.partitions() : config_.default_partitions;
  return topics_.create(spec.name(), partitions, {spec.configs().begin(), spec.configs().end()});
}

grpc::ServerUnaryReactor* AdminService::DeleteTopics(grpc::CallbackServerContext* context,
                                                     const v1::DeleteTopicsRequest* request,
                                                     v1::DeleteTopicsResponse* response) {
  return run_change(context, &v1::Admin::Stub::DeleteTopics, request, response, [this, request, response] {
    for (const auto& name : request->names()) {
      auto* result = response->add_results();
      result->set_name(name);
      to_proto(remove(name), result->mutable_error());
    }
  });
}

Status AdminService::remove(const std::string& name) {
  CAIRN_RETURN_IF_ERROR(refuse_if_internal(name, "delete"));
  return controller_ ? controller_->delete_topic(name) : topics_.remove(name);
}

Status AdminService::alter(const std::string& name, const std::map<std::string, std::string>& set) {
  CAIRN_RETURN_IF_ERROR(refuse_if_internal(name, "alter"));
  return controller_ ? controller_->alter_topic(name, set) : topics_.alter(name, set);
}

grpc::ServerUnaryReactor* AdminService::ListTopics(grpc::CallbackServerContext* context,
                                                   const v1::ListTopicsRequest* request,
                                                   v1::ListTopicsResponse* response) {
  for (const auto& topic : topics_.topics()) {
    if (request->include_internal() || !is_internal_topic(topic.name)) response->add_names(topic.name);
  }
  return finish(context);
}

void AdminService::describe(const Topic& topic, v1::TopicDescription* out) const {
  out->set_name(topic.name);
  for (int32_t number = 0; number < static_cast<int32_t>(topic.partitions.size()); ++number) {
    auto* p = out->add_partitions();
    p->set_partition(number);
    p->set_leader(topic.leader_of(number, config_.node_id));
    for (int32_t id : topic.replicas_of(number, config_.node_id)) p->add_replicas(id);
    for (int32_t id : topic.target_of(number)) p->add_moving_to(id);
    const auto& partition = topic.partitions[static_cast<size_t>(number)];
    if (!partition) continue;  // hosted elsewhere: its offsets are known there
    if (partition->replica()) {
      for (int32_t id : partition->replica()->caught_up_replicas()) p->add_caught_up(id);
    } else {
      p->add_caught_up(config_.node_id);
    }
    PartitionStats stats = partition->stats();
    p->set_log_start_offset(stats.log_start.value);
    p->set_high_watermark(stats.high_watermark.value);
    p->set_log_end_offset(stats.log_end.value);
    p->set_size_bytes(static_cast<int64_t>(stats.size_bytes));
    p->set_segments(static_cast<int32_t>(stats.segments));
  }
  auto configs = topic.config.to_map();
  // What share groups apply to it (checked when set, so it parses).
  auto share = share_topic_config(topic.name, topic.config_overrides);
  configs["max.delivery.attempts"] =
      std::to_string(share.ok() && share->max_delivery_attempts ? *share->max_delivery_attempts
                                                                : config_.share_max_delivery_attempts);
  configs["dead.letter.topic"] = share.ok() && share->dead_letter_topic ? *share->dead_letter_topic
                                                                         : dead_letter::topic_for(topic.name);
  out->mutable_configs()->insert(configs.begin(), configs.end());
  for (const auto& [key, value] : topic.config_overrides) out->add_overridden(key);
  out->set_internal(is_internal_topic(topic.name));
  out->set_retention_check_interval_ms(config_.retention_check_interval_ms);
}

grpc::ServerUnaryReactor* AdminService::DescribeTopics(grpc::CallbackServerContext* context,
                                                       const v1::DescribeTopicsRequest* request,
                                                       v1::DescribeTopicsResponse* response) {
  if (request->names().empty()) {
    for (const auto& topic : topics_.topics()) describe(topic, response->add_topics());
    return finish(context);
  }
  for (const auto& name : request->names()) {
    auto* out = response->add_topics();
    if (auto topic = topics_.topic(name)) {
      describe(*topic, out);
    } else {
      out->set_name(name);
      to_proto(error(ErrorCode::unknown_topic_or_partition, "topic '{}' does not exist", name),
               out->mutable_error());
    }
  }
  return finish(context);
}

grpc::ServerUnaryReactor* AdminService::AlterTopicConfigs(grpc::CallbackServerContext* context,
                                                          const v1::AlterTopicConfigsRequest* request,
                                                          v1::AlterTopicConfigsResponse* response) {
  return run_change(context, &v1::Admin::Stub::AlterTopicConfigs, request, response, [this, request, response] {
    to_proto(alter(request->name(), {request->set().begin(), request->set().end()}),
             response->mutable_error());
  });
}

grpc::ServerUnaryReactor* AdminService::MoveReplicas(grpc::CallbackServerContext* context,
                                                     const v1::MoveReplicasRequest* request,
                                                     v1::MoveReplicasResponse* response) {
  return run_change(context, &v1::Admin::Stub::MoveReplicas, request, response, [this, request, response] {
    Result<std::vector<PartitionMovePlan>> moves =
        error(ErrorCode::invalid_request, "this broker runs alone: there is nowhere to move replicas");
    if (controller_ && request->has_decommission_broker()) {
      moves = controller_->decommission(request->decommission_broker());
    } else if (controller_ && request->has_add_broker()) {
      moves = controller_->add_broker(request->add_broker());
    } else if (controller_ && request->cancel()) {
      moves = controller_->cancel_moves();
    } else if (controller_) {
      moves = error(ErrorCode::invalid_request, "say which broker to decommission or add, or cancel");
    }
    to_proto(moves.status(), response->mutable_error());
    if (!moves.ok()) return;
    for (const auto& move : *moves) {
      auto* out = response->add_moves();
      out->set_topic(move.from.topic);
      out->set_partition(move.from.partition);
      out->mutable_from()->Add(move.from.replicas.begin(), move.from.replicas.end());
      out->mutable_to()->Add(move.to.begin(), move.to.end());
    }
  });
}

grpc::ServerUnaryReactor* AdminService::RebalanceLeaders(grpc::CallbackServerContext* context,
                                                         const v1::RebalanceLeadersRequest*,
                                                         v1::RebalanceLeadersResponse* response) {
  int32_t moved = 0;
  for (const auto& topic : topics_.topics()) {
    for (const auto& partition : topic.partitions) {
      if (partition && partition->replica() && partition->replica()->hand_to_preferred()) ++moved;
    }
  }
  response->set_moved(moved);
  return finish(context);
}

grpc::ServerUnaryReactor* AdminService::FinishPartitionMove(grpc::CallbackServerContext* context,
                                                            const v1::FinishPartitionMoveRequest* request,
                                                            v1::FinishPartitionMoveResponse* response) {
  return run_change(context, &v1::Admin::Stub::FinishPartitionMove, request, response, [this, request, response] {
    Status finished = controller_ ? controller_->finish_move(request->topic(), request->topic_id(),
                                                             request->partition(), request->move_id())
                                  : error(ErrorCode::invalid_request, "this broker runs alone");
    to_proto(finished, response->mutable_error());
  });
}

grpc::ServerUnaryReactor* AdminService::GetMetadataImage(grpc::CallbackServerContext* context,
                                                         const v1::GetMetadataImageRequest*,
                                                         v1::GetMetadataImageResponse* response) {
  auto image = controller_ ? controller_->image()
                           : Result<TopicRegistry>(error(ErrorCode::invalid_request, "this broker runs alone"));
  if (image.ok()) {
    response->set_image(encode_topics(*image));
  } else {
    to_proto(image.status(), response->mutable_error());
  }
  return finish(context, grpc::Status::OK);
}

}  // namespace cairn::broker
