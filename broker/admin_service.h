#pragma once

#include "broker/broker_config.h"
#include "broker/topic_manager.h"
#include "cairn/v1/admin.grpc.pb.h"

namespace cairn::broker {

// Topics and their configs over gRPC. Topic changes are quick (folder
// creation, one registry file sync), so they run on the gRPC thread.
// Internal topics (is_internal_topic) cannot be created, deleted or altered
// here: the broker manages them (internal_topic error).
class AdminService final : public v1::Admin::CallbackService {
 public:
  AdminService(const BrokerConfig& config, TopicManager& topics);

  grpc::ServerUnaryReactor* CreateTopics(grpc::CallbackServerContext* context,
                                         const v1::CreateTopicsRequest* request,
                                         v1::CreateTopicsResponse* response) override;
  grpc::ServerUnaryReactor* DeleteTopics(grpc::CallbackServerContext* context,
                                         const v1::DeleteTopicsRequest* request,
                                         v1::DeleteTopicsResponse* response) override;
  grpc::ServerUnaryReactor* ListTopics(grpc::CallbackServerContext* context,
                                       const v1::ListTopicsRequest* request,
                                       v1::ListTopicsResponse* response) override;
  grpc::ServerUnaryReactor* DescribeTopics(grpc::CallbackServerContext* context,
                                           const v1::DescribeTopicsRequest* request,
                                           v1::DescribeTopicsResponse* response) override;
  grpc::ServerUnaryReactor* AlterTopicConfigs(grpc::CallbackServerContext* context,
                                              const v1::AlterTopicConfigsRequest* request,
                                              v1::AlterTopicConfigsResponse* response) override;

 private:
  Status create(const v1::TopicSpec& spec);
  void describe(const Topic& topic, v1::TopicDescription* out) const;

  const BrokerConfig& config_;
  TopicManager& topics_;
};

}  // namespace cairn::broker
