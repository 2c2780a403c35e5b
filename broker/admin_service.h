#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <asio/thread_pool.hpp>

#include "broker/broker_config.h"
#include "broker/cluster/controller.h"
#include "broker/topic_manager.h"
#include "cairn/v1/admin.grpc.pb.h"

namespace cairn::broker {

// Topics and their configs over gRPC. Topic changes are quick (folder
// creation, one registry file sync), so they run on the gRPC thread.
// Internal topics (is_internal_topic) cannot be created, deleted or altered
// here: the broker manages them (internal_topic error).
//
// In a cluster, changes go through the controller: a broker that is not
// the controller leader forwards the request there, once (KIP-590's
// forwarding), and answers with the leader's response; any broker will do
// for a client. Changes wait (for the controller's commit, or for the
// forward), so they run one at a time on a thread of their own, never on
// gRPC's callback threads, which Raft's own traffic needs meanwhile.
class AdminService final : public v1::Admin::CallbackService {
 public:
  // `controller` is null on a broker alone.
  AdminService(const BrokerConfig& config, TopicManager& topics, Controller* controller);

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
  grpc::ServerUnaryReactor* MoveReplicas(grpc::CallbackServerContext* context,
                                         const v1::MoveReplicasRequest* request,
                                         v1::MoveReplicasResponse* response) override;
  grpc::ServerUnaryReactor* RebalanceLeaders(grpc::CallbackServerContext* context,
                                             const v1::RebalanceLeadersRequest* request,
                                             v1::RebalanceLeadersResponse* response) override;
  grpc::ServerUnaryReactor* FinishPartitionMove(grpc::CallbackServerContext* context,
                                                const v1::FinishPartitionMoveRequest* request,
                                                v1::FinishPartitionMoveResponse* response) override;
  grpc::ServerUnaryReactor* GetMetadataImage(grpc::CallbackServerContext* context,
                                             const v1::GetMetadataImageRequest* request,
                                             v1::GetMetadataImageResponse* response) override;

 private:
  template <typename Request, typename Response>
  using AdminMethod = grpc::Status (v1::Admin::Stub::*)(grpc::ClientContext*, const Request&, Response*);
  // Runs a change on the changes thread, then finishes the call: in a
  // cluster, on a broker that is not the controller leader, `method` on the
  // leader answers it; otherwise `handle` fills the response here.
  template <typename Request, typename Response>
  grpc::ServerUnaryReactor* run_change(grpc::CallbackServerContext* context,
                                       AdminMethod<Request, Response> method, const Request* request,
                                       Response* response, std::function<void()> handle);
  Status create(const v1::TopicSpec& spec);
  Status remove(const std::string& name);
  Status alter(const std::string& name, const std::map<std::string, std::string>& set);
  void describe(const Topic& topic, v1::TopicDescription* out) const;
  // In a cluster, on a broker that is not the controller leader: `call`
  // made on the leader, its outcome; none where the change is made here.
  using AdminCall = std::function<grpc::Status(v1::Admin::Stub&, grpc::ClientContext&)>;
  std::optional<grpc::Status> forward_to_controller(grpc::CallbackServerContext* context,
                                                    const AdminCall& call);

  const BrokerConfig& config_;
  TopicManager& topics_;
  Controller* const controller_;
  asio::thread_pool changes_{1};
};

}  // namespace cairn::broker
