#pragma once

#include "broker/share/share_coordinator.h"
#include "cairn/v1/queues.grpc.pb.h"

namespace cairn::broker {

// Share groups (queues) over gRPC. In a cluster each broker answers for the
// share groups it coordinates (not_leader for the others) and lists those.
class QueuesService final : public v1::Queues::CallbackService {
 public:
  explicit QueuesService(ShareCoordinator& coordinator) : coordinator_(coordinator) {}

  grpc::ServerUnaryReactor* ShareFetch(grpc::CallbackServerContext* context, const v1::ShareFetchRequest* request,
                                       v1::ShareFetchResponse* response) override;
  grpc::ServerUnaryReactor* ShareAcknowledge(grpc::CallbackServerContext* context,
                                             const v1::ShareAcknowledgeRequest* request,
                                             v1::ShareAcknowledgeResponse* response) override;
  grpc::ServerUnaryReactor* DescribeShareGroup(grpc::CallbackServerContext* context,
                                               const v1::DescribeShareGroupRequest* request,
                                               v1::DescribeShareGroupResponse* response) override;
  grpc::ServerUnaryReactor* ListShareGroups(grpc::CallbackServerContext* context,
                                            const v1::ListShareGroupsRequest* request,
                                            v1::ListShareGroupsResponse* response) override;
  grpc::ServerUnaryReactor* ResetShareGroup(grpc::CallbackServerContext* context,
                                            const v1::ResetShareGroupRequest* request,
                                            v1::ResetShareGroupResponse* response) override;
  grpc::ServerUnaryReactor* DeleteShareGroup(grpc::CallbackServerContext* context,
                                             const v1::DeleteShareGroupRequest* request,
                                             v1::DeleteShareGroupResponse* response) override;

 private:
  ShareCoordinator& coordinator_;
};

}  // namespace cairn::broker
