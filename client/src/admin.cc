#include "cairn/admin.h"

#include <chrono>
#include <functional>
#include <thread>

#include <grpcpp/generic/generic_stub.h>

#include "cluster.h"
#include "proto/group_placement.h"
#include "proto/rpc_error.h"

namespace cairn {
namespace {

class AdminImpl final : public Admin {
 public:
  explicit AdminImpl(ClientOptions options) : cluster_(std::move(options)) {}

  Status create_topic(const NewTopic& topic) override {
    v1::CreateTopicsRequest request;
    auto* spec = request.add_topics();
    spec->set_name(topic.name);
    spec->set_partitions(topic.partitions);
    spec->set_replication_factor(topic.replication_factor);
    spec->mutable_configs()->insert(topic.configs.begin(), topic.configs.end());
    return retrying([&] {
      v1::CreateTopicsResponse response;
      CAIRN_RETURN_IF_ERROR(call(&client::BrokerConnection::admin, &v1::Admin::Stub::CreateTopics, request, &response));
      return single(response.results());
    });
  }

  Status delete_topic(const std::string& name) override {
    v1::DeleteTopicsRequest request;
    request.add_names(name);
    Status deleted = retrying([&] {
      v1::DeleteTopicsResponse response;
      CAIRN_RETURN_IF_ERROR(call(&client::BrokerConnection::admin, &v1::Admin::Stub::DeleteTopics, request, &response));
      return single(response.results());
    });
    cluster_.invalidate(name);
    return deleted;
  }

  Result<ClusterDescription> describe_cluster() override {
    v1::MetadataRequest request;
    request.add_topics("");  // brokers only: no topic has an empty name
    v1::MetadataResponse response;
    CAIRN_RETURN_IF_ERROR(call(&client::BrokerConnection::broker, &v1::Broker::Stub::Metadata, request, &response));
    ClusterDescription out;
    out.controller_id = response.controller_id();
    // Each broker asked directly; the controller's answer says which it hears.
    std::map<int32_t, v1::BrokerLiveness> liveness;
    for (const auto& broker : response.brokers()) {
      std::string address = client::address_of(broker);
      auto stub = v1::Broker::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
      v1::MetadataResponse own;
      bool reachable = stub->Metadata(&context, request, &own).ok();
      if (reachable && broker.id() == out.controller_id) {
        for (const auto& b : own.brokers()) liveness[b.id()] = b.liveness();
      }
      out.brokers.push_back({broker.id(), address, reachable, std::nullopt, broker.decommissioned()});
    }
    for (auto& broker : out.brokers) {
      auto seen = liveness.find(broker.id);
      if (seen != liveness.end() && seen->second != v1::LIVENESS_UNKNOWN) broker.live = seen->second == v1::LIVE;
    }
    return out;
  }

  // grpc.health.v1.Health/Check without its schema: compiled into libcairn,
  // health.proto would clash with an application that compiles it too. The
  // request is an empty HealthCheckRequest; the answer's field 1 is the
  // status, SERVING = 1 (bytes 08 01), NOT_SERVING = 2.
  Status check_health(const std::string& address) override {
    grpc::GenericStub stub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    auto context = cluster_.context();
    grpc::CompletionQueue queue;
    grpc::ByteBuffer request(nullptr, 0);
    grpc::ByteBuffer response;
    grpc::Status rpc;
    auto call = stub.PrepareUnaryCall(context.get(), "/grpc.health.v1.Health/Check", request, &queue);
    call->StartCall();
    call->Finish(&response, &rpc, nullptr);
    void* tag = nullptr;
    bool ok = false;
    queue.Next(&tag, &ok);  // the one event: Finish, always delivered
    queue.Shutdown();
    while (queue.Next(&tag, &ok)) {}
    if (!rpc.ok()) {
      return error(ErrorCode::broker_unavailable, "no answer from {}: {}", address, from_grpc(rpc).to_string());
    }
    std::vector<grpc::Slice> slices;
    std::string bytes;
    if (response.Dump(&slices).ok()) {
      for (const auto& slice : slices) bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
    if (bytes == std::string("\x08\x01", 2)) return {};
    return error(ErrorCode::broker_unavailable, "{} answers {}", address,
                 bytes == std::string("\x08\x02", 2) ? "NOT_SERVING" : "a status other than SERVING");
  }

  Result<std::vector<PartitionMove>> decommission_broker(int32_t id) override {
    v1::MoveReplicasRequest request;
    request.set_decommission_broker(id);
    return move_replicas(request);
  }

  Result<std::vector<PartitionMove>> add_broker(int32_t id) override {
    v1::MoveReplicasRequest request;
    request.set_add_broker(id);
    return move_replicas(request);
  }

  Result<std::vector<PartitionMove>> cancel_moves() override {
    v1::MoveReplicasRequest request;
    request.set_cancel(true);
    return move_replicas(request);
  }

  Result<int32_t> rebalance_leaders() override {
    int32_t moved = 0;
    for (const auto& broker : cluster_.all_brokers()) {
      v1::RebalanceLeadersResponse response;
      auto rpc = broker->admin->RebalanceLeaders(cluster_.context().get(), v1::RebalanceLeadersRequest(),
                                                 &response);
      if (!rpc.ok()) {
        return error(from_grpc(rpc).code(), "broker {}: {}; the others may have moved leaders already",
                     broker->address, rpc.error_message());
      }
      moved += response.moved();
    }
    return moved;
  }

  Result<std::vector<std::string>> list_topics(bool include_internal) override {
    v1::ListTopicsRequest request;
    request.set_include_internal(include_internal);
    v1::ListTopicsResponse response;
    CAIRN_RETURN_IF_ERROR(call(&client::BrokerConnection::admin, &v1::Admin::Stub::ListTopics, request, &response));
    return std::vector<std::string>(response.names().begin(), response.names().end());
  }

  Result<TopicDescription> describe_topic(const std::string& name) override {
    v1::DescribeTopicsRequest request;
    request.add_names(name);
    v1::DescribeTopicsResponse response;
    CAIRN_RETURN_IF_ERROR(call(&client::BrokerConnection::admin, &v1::Admin::Stub::DescribeTopics, request, &response));
    if (response.topics_size() != 1) return error(ErrorCode::unknown, "malformed describe answer");
    const auto& t = response.topics(0);
    CAIRN_RETURN_IF_ERROR(from_proto(t.error()));
    TopicDescription out{t.name(), {}, {t.configs().begin(), t.configs().end()},
                         {t.overridden().begin(), t.overridden().end()}, t.internal(),
                         t.retention_check_interval_ms()};
    // In a cluster each partition is described by its leader (offsets as
    // it has them, which replicas are caught up): one request per leader.
    std::map<std::string, v1::TopicDescription> by_leader;
    for (const auto& p : t.partitions()) {
      const v1::PartitionDescription* described = &p;
      // Asked of the leader this client knows; if that broker does not lead
      // it (any more: leadership moved back to its preferred replica since
      // the client cached it), once more after a metadata refresh.
      for (int attempt = 0; attempt < 2 && described->caught_up().empty(); ++attempt) {
        if (attempt > 0) cluster_.invalidate(name);
        if (auto leader = leader_description(request, {name, p.partition()}, by_leader)) {
          for (const auto& q : leader->partitions()) {
            if (q.partition() == p.partition()) described = &q;
          }
        }
      }
      const auto& d = *described;
      out.partitions.push_back({d.partition(), d.leader(), {d.replicas().begin(), d.replicas().end()},
                                Offset(d.log_start_offset()), Offset(d.high_watermark()),
                                Offset(d.log_end_offset()), d.size_bytes(), d.segments(),
                                {d.caught_up().begin(), d.caught_up().end()},
                                {d.moving_to().begin(), d.moving_to().end()}});
    }
    return out;
  }

  // The topic as the leader of `tp` describes it (asked once per leader,
  // kept in `cache`); none if it does not answer.
  const v1::TopicDescription* leader_description(const v1::DescribeTopicsRequest& request,
                                                 const TopicPartition& tp,
                                                 std::map<std::string, v1::TopicDescription>& cache) {
    auto leader = cluster_.leader(tp);
    if (!leader.ok()) return nullptr;
    auto cached = cache.find((*leader)->address);
    if (cached == cache.end()) {
      v1::DescribeTopicsResponse response;
      auto rpc = (*leader)->admin->DescribeTopics(cluster_.context().get(), request, &response);
      if (!rpc.ok() || response.topics_size() != 1) return nullptr;
      cached = cache.emplace((*leader)->address, response.topics(0)).first;
    }
    return &cached->second;
  }

  Status alter_topic_configs(const std::string& name,
                             const std::map<std::string, std::string>& set) override {
    v1::AlterTopicConfigsRequest request;
    request.set_name(name);
    request.mutable_set()->insert(set.begin(), set.end());
    return retrying([&] {
      v1::AlterTopicConfigsResponse response;
      CAIRN_RETURN_IF_ERROR(call(&client::BrokerConnection::admin, &v1::Admin::Stub::AlterTopicConfigs, request, &response));
      return from_proto(response.error());
    });
  }

  // One attempt: consumers poll on, so they retry on their own schedule.
  Result<Offset> list_offset(const std::string& topic, int32_t partition, OffsetSpec spec) override {
    auto leader = cluster_.leader({topic, partition});
    if (!leader.ok()) return leader.status();
    v1::ListOffsetsRequest request;
    auto* query = request.add_queries();
    query->set_topic(topic);
    query->set_partition(partition);
    switch (spec.kind) {
      case OffsetSpec::Kind::earliest: query->set_earliest(true); break;
      case OffsetSpec::Kind::latest: query->set_latest(true); break;
      case OffsetSpec::Kind::timestamp: query->set_timestamp_ms(spec.timestamp_ms); break;
    }
    v1::ListOffsetsResponse response;
    auto rpc = (*leader)->broker->ListOffsets(cluster_.context().get(), request, &response);
    Status answered = !rpc.ok() ? error(from_grpc(rpc).code(), "broker {}: {}", (*leader)->address, rpc.error_message())
                      : response.answers_size() != 1 ? error(ErrorCode::unknown, "malformed offsets answer")
                                                     : from_proto(response.answers(0).error());
    // A leader that moved or went away: the next attempt asks the cluster.
    if (answered.code() == ErrorCode::not_leader || answered.code() == ErrorCode::broker_unavailable) {
      cluster_.invalidate(topic);
    }
    if (!answered.ok()) return answered;
    return Offset(response.answers(0).offset());
  }

  // Each broker lists the groups it coordinates.
  Result<std::vector<GroupSummary>> list_groups() override {
    std::map<std::string, GroupSummary> by_name;
    Status last_error = error(ErrorCode::broker_unavailable, "no broker answered");
    bool answered = false;
    for (const auto& broker : cluster_.all_brokers()) {
      v1::ListGroupsResponse response;
      auto rpc = broker->groups->ListGroups(cluster_.context().get(), v1::ListGroupsRequest(), &response);
      if (!rpc.ok()) {
        last_error = error(from_grpc(rpc).code(), "broker {}: {}", broker->address, rpc.error_message());
        continue;
      }
      answered = true;
      for (const auto& g : response.groups()) by_name[g.group()] = {g.group(), g.state(), g.members()};
    }
    if (!answered) return last_error;
    std::vector<GroupSummary> out;
    for (auto& [name, summary] : by_name) out.push_back(std::move(summary));
    return out;
  }

  Result<GroupDescription> describe_group(const std::string& group) override {
    v1::DescribeGroupRequest request;
    request.set_group(group);
    v1::DescribeGroupResponse response;
    CAIRN_RETURN_IF_ERROR(call_coordinator(group, kOffsetsTopic, &client::BrokerConnection::groups,
                            &v1::Groups::Stub::DescribeGroup, request, &response));
    GroupDescription out{response.group(), response.state(), response.group_epoch(), response.assignor(), {}, {}};
    for (const auto& m : response.members()) {
      GroupMemberDescription member{m.member_id(), m.member_epoch(), {m.topics().begin(), m.topics().end()},
                                    m.topic_regex(), {}};
      for (const auto& t : m.assignment()) {
        for (int32_t p : t.partitions()) member.assignment.push_back({t.topic(), p});
      }
      out.members.push_back(std::move(member));
    }
    for (const auto& p : response.partitions()) {
      GroupPartitionLag lag;
      lag.tp = {p.topic(), p.partition()};
      if (p.committed_offset() >= 0) lag.committed = Offset(p.committed_offset());
      lag.log_end_offset = Offset(p.log_end_offset());
      lag.lag = p.lag();
      lag.owner = p.owner();
      out.partitions.push_back(std::move(lag));
    }
    return out;
  }

  Status delete_group(const std::string& group) override {
    v1::DeleteGroupRequest request;
    request.set_group(group);
    v1::DeleteGroupResponse response;
    return call_coordinator(group, kOffsetsTopic, &client::BrokerConnection::groups,
                            &v1::Groups::Stub::DeleteGroup, request, &response);
  }

  // Each broker lists the share groups it coordinates.
  Result<std::vector<std::string>> list_share_groups() override {
    std::set<std::string> names;
    Status last_error = error(ErrorCode::broker_unavailable, "no broker answered");
    bool answered = false;
    for (const auto& broker : cluster_.all_brokers()) {
      v1::ListShareGroupsResponse response;
      auto rpc = broker->queues->ListShareGroups(cluster_.context().get(), v1::ListShareGroupsRequest(), &response);
      if (!rpc.ok()) {
        last_error = error(from_grpc(rpc).code(), "broker {}: {}", broker->address, rpc.error_message());
        continue;
      }
      answered = true;
      names.insert(response.groups().begin(), response.groups().end());
    }
    if (!answered) return last_error;
    return std::vector<std::string>(names.begin(), names.end());
  }

  Result<ShareGroupDescription> describe_share_group(const std::string& group) override {
    v1::DescribeShareGroupRequest request;
    request.set_group(group);
    v1::DescribeShareGroupResponse response;
    CAIRN_RETURN_IF_ERROR(call_coordinator(group, kShareStateTopic, &client::BrokerConnection::queues,
                                           &v1::Queues::Stub::DescribeShareGroup, request, &response));
    ShareGroupDescription out{response.group(), {}, {}, response.dead_lettered()};
    for (const auto& m : response.members()) {
      out.members.push_back({m.member_id(), m.topic(), m.last_seen_ms(), m.acquired()});
    }
    for (const auto& p : response.partitions()) {
      out.partitions.push_back({{p.topic(), p.partition()}, Offset(p.start_offset()), Offset(p.next_offset()),
                                Offset(p.high_watermark()), p.acquired(), p.awaiting_redelivery(),
                                p.dead_lettering(), p.max_delivery_count(), p.lag()});
    }
    return out;
  }

  Status reset_share_group(const std::string& group, const std::string& topic, OffsetSpec spec) override {
    v1::ResetShareGroupRequest request;
    request.set_group(group);
    request.set_topic(topic);
    switch (spec.kind) {
      case OffsetSpec::Kind::earliest: request.set_earliest(true); break;
      case OffsetSpec::Kind::latest: request.set_latest(true); break;
      case OffsetSpec::Kind::timestamp: request.set_timestamp_ms(spec.timestamp_ms); break;
    }
    v1::ResetShareGroupResponse response;
    return call_coordinator(group, kShareStateTopic, &client::BrokerConnection::queues,
                            &v1::Queues::Stub::ResetShareGroup, request, &response);
  }

  Status delete_share_group(const std::string& group) override {
    v1::DeleteShareGroupRequest request;
    request.set_group(group);
    v1::DeleteShareGroupResponse response;
    return call_coordinator(group, kShareStateTopic, &client::BrokerConnection::queues,
                            &v1::Queues::Stub::DeleteShareGroup, request, &response);
  }

  Status commit_offsets(const std::string& group,
                        const std::map<TopicPartition, Offset>& offsets) override {
    v1::CommitOffsetsRequest request;
    request.set_group(group);
    for (const auto& [tp, offset] : offsets) {
      auto* o = request.add_offsets();
      o->set_topic(tp.topic);
      o->set_partition(tp.partition);
      o->set_offset(offset.value);
    }
    v1::CommitOffsetsResponse response;
    return call_coordinator(group, kOffsetsTopic, &client::BrokerConnection::groups,
                            &v1::Groups::Stub::CommitOffsets, request, &response);
  }

 private:
  // A call retried while the controller or a group's coordinator is moving
  // (not_leader) or the broker asked is down, within the request timeout.
  // A retried change may have taken effect the first time: creating a
  // topic then answers topic_already_exists, deleting one
  // unknown_topic_or_partition.
  Status retrying(const std::function<Status()>& change) {
    auto give_up = std::chrono::steady_clock::now() +
                   std::chrono::milliseconds(cluster_.options().request_timeout_ms);
    for (;;) {
      Status status = change();
      bool retry = status.code() == ErrorCode::not_leader ||
                   status.code() == ErrorCode::broker_unavailable;
      if (!retry || std::chrono::steady_clock::now() >= give_up) return status;
      std::this_thread::sleep_for(std::chrono::milliseconds(cluster_.options().retry_backoff_ms));
    }
  }

  // One blocking RPC to a group's coordinator (the leader of its partition
  // of `state_topic`), found again and retried while it moves; the answer's
  // own error is the result.
  template <typename Stub, typename Request, typename Response>
  Status call_coordinator(const std::string& group, const std::string& state_topic,
                          std::unique_ptr<Stub> client::BrokerConnection::*stub,
                          grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                          const Request& request, Response* response) {
    return retrying([&] {
      response->Clear();
      auto broker = cluster_.coordinator(group, state_topic);
      if (!broker.ok()) {
        cluster_.invalidate(state_topic);
        return broker.status();
      }
      auto rpc = (((**broker).*stub).get()->*method)(cluster_.context().get(), request, response);
      if (!rpc.ok()) {
        cluster_.invalidate(state_topic);
        return error(from_grpc(rpc).code(), "broker {}: {}", (*broker)->address, rpc.error_message());
      }
      Status answered = from_proto(response->error());
      if (answered.code() == ErrorCode::not_leader) cluster_.invalidate(state_topic);
      return answered;
    });
  }

  Result<std::vector<PartitionMove>> move_replicas(const v1::MoveReplicasRequest& request) {
    v1::MoveReplicasResponse response;
    CAIRN_RETURN_IF_ERROR(retrying([&] {
      response.Clear();
      CAIRN_RETURN_IF_ERROR(call(&client::BrokerConnection::admin, &v1::Admin::Stub::MoveReplicas, request, &response));
      return from_proto(response.error());
    }));
    std::vector<PartitionMove> moves;
    for (const auto& m : response.moves()) {
      moves.push_back({m.topic(), m.partition(), {m.from().begin(), m.from().end()}, {m.to().begin(), m.to().end()}});
    }
    return moves;
  }

  // One blocking RPC on `stub` of any broker.
  template <typename Stub, typename Request, typename Response>
  Status call(std::unique_ptr<Stub> client::BrokerConnection::*stub,
              grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
              const Request& request, Response* response) {
    auto broker = cluster_.any_broker();
    if (!broker.ok()) return broker.status();
    auto rpc = (((**broker).*stub).get()->*method)(cluster_.context().get(), request, response);
    if (!rpc.ok()) {
      Status failed = error(from_grpc(rpc).code(), "broker {}: {}", (*broker)->address, rpc.error_message());
      // The next call goes to a broker that answers, if any does.
      if (client::unanswered(failed)) cluster_.avoid((*broker)->address);
      if (failed.code() == ErrorCode::broker_unavailable) (void)cluster_.refresh();
      return failed;
    }
    cluster_.answered((*broker)->address);
    return {};
  }

  template <typename Results>
  static Status single(const Results& results) {
    if (results.size() != 1) return error(ErrorCode::unknown, "malformed answer");
    return from_proto(results.Get(0).error());
  }

  client::Cluster cluster_;
};

}  // namespace

Result<std::unique_ptr<Admin>> Admin::connect(ClientOptions options) {
  CAIRN_RETURN_IF_ERROR(client::check_client_options(options));
  return std::unique_ptr<Admin>(new AdminImpl(std::move(options)));
}

}  // namespace cairn
