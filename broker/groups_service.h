#pragma once

#include "broker/group/group_coordinator.h"
#include "broker/topic_manager.h"
#include "cairn/v1/groups.grpc.pb.h"

namespace cairn::broker {

// Consumer groups over gRPC: heartbeats, offset commits and fetches, and
// their administration. Commits answer once durable (from the flusher).
class GroupsService final : public v1::Groups::CallbackService {
 public:
  GroupsService(GroupCoordinator& coordinator, TopicManager& topics);

  grpc::ServerUnaryReactor* Heartbeat(grpc::CallbackServerContext* context,
                                      const v1::HeartbeatRequest* request,
                                      v1::HeartbeatResponse* response) override;
  grpc::ServerUnaryReactor* CommitOffsets(grpc::CallbackServerContext* context,
                                          const v1::CommitOffsetsRequest* request,
                                          v1::CommitOffsetsResponse* response) override;
  grpc::ServerUnaryReactor* FetchOffsets(grpc::CallbackServerContext* context,
                                         const v1::FetchOffsetsRequest* request,
                                         v1::FetchOffsetsResponse* response) override;
  grpc::ServerUnaryReactor* ListGroups(grpc::CallbackServerContext* context,
                                       const v1::ListGroupsRequest* request,
                                       v1::ListGroupsResponse* response) override;
  grpc::ServerUnaryReactor* DescribeGroup(grpc::CallbackServerContext* context,
                                          const v1::DescribeGroupRequest* request,
                                          v1::DescribeGroupResponse* response) override;
  grpc::ServerUnaryReactor* DeleteGroup(grpc::CallbackServerContext* context,
                                        const v1::DeleteGroupRequest* request,
                                        v1::DeleteGroupResponse* response) override;

 private:
  GroupCoordinator& coordinator_;
  TopicManager& topics_;
};

}  // namespace cairn::broker
