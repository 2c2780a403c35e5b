#include "broker/queues_service.h"

#include "proto/record_messages.h"
#include "proto/rpc_error.h"

namespace cairn::broker {
namespace {

constexpr int32_t kDefaultMaxRecords = 500;

grpc::ServerUnaryReactor* finish(grpc::CallbackServerContext* context) {
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

std::optional<AckType> ack_type(v1::AckType type) {
  switch (type) {
    case v1::ACCEPT: return AckType::accept;
    case v1::RELEASE: return AckType::release;
    case v1::REJECT: return AckType::reject;
    case v1::GIVE_BACK: return AckType::give_back;
    case v1::RENEW: return AckType::renew;
    default: return std::nullopt;
  }
}

}  // namespace

grpc::ServerUnaryReactor* QueuesService::ShareFetch(grpc::CallbackServerContext* context,
                                                    const v1::ShareFetchRequest* request,
                                                    v1::ShareFetchResponse* response) {
  ShareFetchInput input;
  input.group = request->group();
  input.member_id = request->member_id();
  input.topic = request->topic();
  input.max_records = static_cast<size_t>(request->max_records() > 0 ? request->max_records() : kDefaultMaxRecords);
  input.max_wait_ms = request->max_wait_ms();
  const auto& limits = coordinator_.options().limits;
  response->set_record_lock_ms(static_cast<int32_t>(limits.record_lock_ms));
  auto* reactor = context->DefaultReactor();
  coordinator_.fetch(std::move(input), [reactor, response](Result<ShareFetchOutput> out) {
    if (!out.ok()) {
      to_proto(out.status(), response->mutable_error());
    } else {
      response->set_member_id(out->member_id);
      for (auto& acquired : out->records) {
        auto* record = response->add_records();
        record->set_partition(acquired.partition);
        record->set_delivery_count(acquired.delivery_count);
        record->set_lock_until_ms(acquired.lock_until_ms);
        to_proto(std::move(acquired.record), record->mutable_record());
      }
    }
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* QueuesService::ShareAcknowledge(grpc::CallbackServerContext* context,
                                                          const v1::ShareAcknowledgeRequest* request,
                                                          v1::ShareAcknowledgeResponse* response) {
  std::vector<ShareAcknowledgement> acks;
  for (const auto& a : request->acknowledgements()) {
    auto type = ack_type(a.type());
    if (!type) {
      to_proto(error(ErrorCode::invalid_request, "an acknowledgement of offsets {}..{} has no type (ACCEPT, "
                                                 "RELEASE, REJECT, GIVE_BACK or RENEW)",
                     a.first_offset(), a.last_offset()),
               response->mutable_error());
      return finish(context);
    }
    acks.push_back({a.partition(), Offset(a.first_offset()), Offset(a.last_offset()), *type, a.reason()});
  }
  auto* reactor = context->DefaultReactor();
  coordinator_.acknowledge(
      request->group(), request->member_id(), request->topic(), acks, request->leave(),
      [reactor, request, response](Result<std::vector<Status>> out) {
        if (!out.ok()) {
          to_proto(out.status(), response->mutable_error());
        } else {
          for (int i = 0; i < request->acknowledgements_size() && i < static_cast<int>(out->size()); ++i) {
            const auto& a = request->acknowledgements(i);
            auto* result = response->add_results();
            result->set_partition(a.partition());
            result->set_first_offset(a.first_offset());
            result->set_last_offset(a.last_offset());
            to_proto((*out)[static_cast<size_t>(i)], result->mutable_error());
          }
        }
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::ServerUnaryReactor* QueuesService::DescribeShareGroup(grpc::CallbackServerContext* context,
                                                            const v1::DescribeShareGroupRequest* request,
                                                            v1::DescribeShareGroupResponse* response) {
  auto described = coordinator_.describe(request->group());
  if (!described.ok()) {
    to_proto(described.status(), response->mutable_error());
    return finish(context);
  }
  response->set_group(described->group);
  response->set_dead_lettered(described->dead_lettered);
  for (const auto& m : described->members) {
    auto* member = response->add_members();
    member->set_member_id(m.id);
    member->set_topic(m.topic);
    member->set_last_seen_ms(m.last_seen_ms);
    member->set_acquired(static_cast<int32_t>(m.acquired));
  }
  for (const auto& p : described->partitions) {
    auto* partition = response->add_partitions();
    partition->set_topic(p.tp.topic);
    partition->set_partition(p.tp.partition);
    partition->set_start_offset(p.start.value);
    partition->set_next_offset(p.next.value);
    partition->set_high_watermark(p.high_watermark.value);
    partition->set_acquired(static_cast<int32_t>(p.acquired));
    partition->set_awaiting_redelivery(static_cast<int32_t>(p.awaiting_redelivery));
    partition->set_dead_lettering(static_cast<int32_t>(p.dead_lettering));
    partition->set_lag(std::max<int64_t>(0, p.high_watermark - p.start));
    partition->set_max_delivery_count(p.max_delivery_count);
  }
  return finish(context);
}

grpc::ServerUnaryReactor* QueuesService::ListShareGroups(grpc::CallbackServerContext* context,
                                                         const v1::ListShareGroupsRequest*,
                                                         v1::ListShareGroupsResponse* response) {
  for (const auto& group : coordinator_.groups()) response->add_groups(group);
  return finish(context);
}

grpc::ServerUnaryReactor* QueuesService::ResetShareGroup(grpc::CallbackServerContext* context,
                                                         const v1::ResetShareGroupRequest* request,
                                                         v1::ResetShareGroupResponse* response) {
  ShareStart start;
  switch (request->spec_case()) {
    case v1::ResetShareGroupRequest::kLatest: start.kind = ShareStart::Kind::latest; break;
    case v1::ResetShareGroupRequest::kTimestampMs:
      start.kind = ShareStart::Kind::time;
      start.timestamp_ms = request->timestamp_ms();
      break;
    default: break;  // earliest
  }
  auto* reactor = context->DefaultReactor();
  coordinator_.reset(request->group(), request->topic(), start, [reactor, response](Status s) {
    to_proto(s, response->mutable_error());
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* QueuesService::DeleteShareGroup(grpc::CallbackServerContext* context,
                                                          const v1::DeleteShareGroupRequest* request,
                                                          v1::DeleteShareGroupResponse* response) {
  auto* reactor = context->DefaultReactor();
  coordinator_.remove(request->group(), [reactor, response](Status s) {
    to_proto(s, response->mutable_error());
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

}  // namespace cairn::broker
