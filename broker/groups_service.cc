#include "broker/groups_service.h"

#include "proto/rpc_error.h"
#include "proto/topic_partitions.h"

namespace cairn::broker {
namespace {

constexpr int32_t kDefaultSessionTimeoutMs = 10'000;
constexpr int32_t kMinSessionTimeoutMs = 500;

grpc::ServerUnaryReactor* finish_ok(grpc::CallbackServerContext* context) {
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace

GroupsService::GroupsService(GroupCoordinator& coordinator, TopicManager& topics)
    : coordinator_(coordinator), topics_(topics) {}

grpc::ServerUnaryReactor* GroupsService::Heartbeat(grpc::CallbackServerContext* context,
                                                   const v1::HeartbeatRequest* request,
                                                   v1::HeartbeatResponse* response) {
  HeartbeatInput input;
  input.member_id = request->member_id();
  input.member_epoch = request->member_epoch();
  input.topics = {request->topics().begin(), request->topics().end()};
  input.topic_regex = request->topic_regex();
  input.owned = from_proto(request->owned());
  input.assignor = request->assignor();
  input.session_timeout_ms = request->session_timeout_ms() > 0
                                 ? std::max(request->session_timeout_ms(), kMinSessionTimeoutMs)
                                 : kDefaultSessionTimeoutMs;
  auto out = coordinator_.heartbeat(request->group(), input);
  if (!out.ok()) {
    to_proto(out.status(), response->mutable_error());
    return finish_ok(context);
  }
  response->set_member_id(out->member_id);
  response->set_member_epoch(out->member_epoch);
  response->set_heartbeat_interval_ms(std::max(100, input.session_timeout_ms / 5));
  to_proto(out->assignment, response->mutable_assignment());
  return finish_ok(context);
}

grpc::ServerUnaryReactor* GroupsService::CommitOffsets(grpc::CallbackServerContext* context,
                                                       const v1::CommitOffsetsRequest* request,
                                                       v1::CommitOffsetsResponse* response) {
  auto* reactor = context->DefaultReactor();
  std::vector<std::pair<TopicPartition, CommittedOffset>> offsets;
  for (const auto& o : request->offsets()) {
    offsets.push_back({{o.topic(), o.partition()}, {o.offset(), o.metadata(), 0}});
  }
  coordinator_.commit(request->group(), request->member_id(), request->member_epoch(),
                      std::move(offsets), [reactor, response](Status s) {
                        to_proto(s, response->mutable_error());
                        reactor->Finish(grpc::Status::OK);
                      });
  return reactor;
}

grpc::ServerUnaryReactor* GroupsService::FetchOffsets(grpc::CallbackServerContext* context,
                                                      const v1::FetchOffsetsRequest* request,
                                                      v1::FetchOffsetsResponse* response) {
  auto committed = coordinator_.committed(request->group());
  if (!committed.ok()) {
    to_proto(committed.status(), response->mutable_error());
    return finish_ok(context);
  }
  auto wanted = from_proto(request->partitions());
  for (const auto& [tp, offset] : *committed) {
    if (!wanted.empty() && !wanted.count(tp)) continue;
    auto* o = response->add_offsets();
    o->set_topic(tp.topic);
    o->set_partition(tp.partition);
    o->set_offset(offset.offset);
    o->set_metadata(offset.metadata);
  }
  return finish_ok(context);
}

grpc::ServerUnaryReactor* GroupsService::ListGroups(grpc::CallbackServerContext* context,
                                                    const v1::ListGroupsRequest* request,
                                                    v1::ListGroupsResponse* response) {
  for (const auto& g : coordinator_.snapshots()) {
    auto* summary = response->add_groups();
    summary->set_group(g.name);
    summary->set_state(g.state);
    summary->set_members(static_cast<int32_t>(g.members.size()));
  }
  return finish_ok(context);
}

grpc::ServerUnaryReactor* GroupsService::DescribeGroup(grpc::CallbackServerContext* context,
                                                       const v1::DescribeGroupRequest* request,
                                                       v1::DescribeGroupResponse* response) {
  auto g = coordinator_.snapshot(request->group());
  if (!g.ok()) {
    to_proto(g.status(), response->mutable_error());
    return finish_ok(context);
  }
  response->set_group(g->name);
  response->set_state(g->state);
  response->set_group_epoch(g->epoch);
  response->set_assignor(g->assignor);
  std::map<TopicPartition, std::string> owners;
  for (const auto& m : g->members) {
    auto* member = response->add_members();
    member->set_member_id(m.id);
    member->set_member_epoch(m.epoch);
    for (const auto& t : m.topics) member->add_topics(t);
    member->set_topic_regex(m.topic_regex);
    to_proto(m.assigned, member->mutable_assignment());
    for (const auto& tp : m.assigned) owners[tp] = m.id;
  }
  // Every partition of the subscribed topics, and every partition with a commit.
  std::set<TopicPartition> partitions;
  for (const auto& [tp, offset] : g->offsets) partitions.insert(tp);
  for (const auto& topic : g->subscribed_topics) {
    if (auto t = topics_.topic(topic)) {
      for (int32_t p = 0; p < static_cast<int32_t>(t->partitions.size()); ++p) {
        partitions.insert({topic, p});
      }
    }
  }
  for (const auto& tp : partitions) {
    auto* lag = response->add_partitions();
    lag->set_topic(tp.topic);
    lag->set_partition(tp.partition);
    auto committed = g->offsets.find(tp);
    int64_t offset = committed == g->offsets.end() ? -1 : committed->second.offset;
    lag->set_committed_offset(offset);
    auto partition = topics_.partition(tp);
    int64_t end = partition ? partition->high_watermark().value : -1;
    lag->set_log_end_offset(end);
    int64_t start = partition ? partition->log_start().value : 0;
    lag->set_lag(end < 0 ? 0 : end - (offset >= 0 ? offset : start));
    auto owner = owners.find(tp);
    if (owner != owners.end()) lag->set_owner(owner->second);
  }
  return finish_ok(context);
}

grpc::ServerUnaryReactor* GroupsService::DeleteGroup(grpc::CallbackServerContext* context,
                                                     const v1::DeleteGroupRequest* request,
                                                     v1::DeleteGroupResponse* response) {
  auto* reactor = context->DefaultReactor();
  coordinator_.remove(request->group(), [reactor, response](Status s) {
    to_proto(s, response->mutable_error());
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

}  // namespace cairn::broker
