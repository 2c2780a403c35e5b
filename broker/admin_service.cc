#include "broker/admin_service.h"

#include "proto/rpc_error.h"

namespace cairn::broker {
namespace {

grpc::ServerUnaryReactor* finish_ok(grpc::CallbackServerContext* context) {
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace

AdminService::AdminService(const BrokerConfig& config, TopicManager& topics)
    : config_(config), topics_(topics) {}

grpc::ServerUnaryReactor* AdminService::CreateTopics(grpc::CallbackServerContext* context,
                                                     const v1::CreateTopicsRequest* request,
                                                     v1::CreateTopicsResponse* response) {
  for (const auto& spec : request->topics()) {
    auto* result = response->add_results();
    result->set_name(spec.name());
    to_proto(create(spec), result->mutable_error());
  }
  return finish_ok(context);
}

Status AdminService::create(const v1::TopicSpec& spec) {
  CAIRN_RETURN_IF_ERROR(refuse_if_internal(spec.name(), "create"));
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
  for (const auto& name : request->names()) {
    auto* result = response->add_results();
    result->set_name(name);
    Status refused = refuse_if_internal(name, "delete");
    to_proto(refused.ok() ? topics_.remove(name) : refused, result->mutable_error());
  }
  return finish_ok(context);
}

grpc::ServerUnaryReactor* AdminService::ListTopics(grpc::CallbackServerContext* context,
                                                   const v1::ListTopicsRequest* request,
                                                   v1::ListTopicsResponse* response) {
  for (const auto& topic : topics_.topics()) {
    if (request->include_internal() || !is_internal_topic(topic.name)) response->add_names(topic.name);
  }
  return finish_ok(context);
}

void AdminService::describe(const Topic& topic, v1::TopicDescription* out) const {
  out->set_name(topic.name);
  for (const auto& partition : topic.partitions) {
    auto* p = out->add_partitions();
    PartitionStats stats = partition->stats();
    p->set_partition(partition->tp().partition);
    p->set_leader(config_.node_id);
    p->add_replicas(config_.node_id);
    p->set_log_start_offset(stats.log_start.value);
    p->set_high_watermark(stats.high_watermark.value);
    p->set_log_end_offset(stats.log_end.value);
    p->set_size_bytes(static_cast<int64_t>(stats.size_bytes));
    p->set_segments(static_cast<int32_t>(stats.segments));
  }
  auto configs = topic.config.to_map();
  out->mutable_configs()->insert(configs.begin(), configs.end());
}

grpc::ServerUnaryReactor* AdminService::DescribeTopics(grpc::CallbackServerContext* context,
                                                       const v1::DescribeTopicsRequest* request,
                                                       v1::DescribeTopicsResponse* response) {
  if (request->names().empty()) {
    for (const auto& topic : topics_.topics()) describe(topic, response->add_topics());
    return finish_ok(context);
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
  return finish_ok(context);
}

grpc::ServerUnaryReactor* AdminService::AlterTopicConfigs(grpc::CallbackServerContext* context,
                                                          const v1::AlterTopicConfigsRequest* request,
                                                          v1::AlterTopicConfigsResponse* response) {
  Status refused = refuse_if_internal(request->name(), "alter");
  to_proto(refused.ok() ? topics_.alter(request->name(), {request->set().begin(), request->set().end()})
                        : refused,
           response->mutable_error());
  return finish_ok(context);
}

}  // namespace cairn::broker
