#include "group_membership.h"

#include <chrono>

#include "proto/group_placement.h"
#include "proto/rpc_error.h"
#include "proto/thread_name.h"
#include "proto/topic_partitions.h"
#include "retry_backoff.h"

namespace cairn::client {

GroupMembership::GroupMembership(Cluster& cluster, Reachability& reachability,
                                 MembershipOptions options)
    : cluster_(cluster), reachability_(reachability), options_(std::move(options)) {
  thread_ = std::thread([this] {
    name_this_thread("cairn-group");
    run();
  });
}

GroupMembership::~GroupMembership() { leave(); }

Assignment GroupMembership::target() {
  std::lock_guard lock(mutex_);
  expire_if_lapsed_locked(Clock::now());
  return {incarnation_, target_};
}

void GroupMembership::expire_if_lapsed_locked(Clock::time_point now) {
  if (member_epoch_ > 0 &&
      now - accepted_heartbeat_sent_ > std::chrono::milliseconds(options_.session_timeout_ms)) {
    lose_membership_locked();
  }
}

void GroupMembership::lose_membership_locked() {
  ++incarnation_;
  member_epoch_ = 0;  // rejoin, claiming nothing
  target_.clear();
  owned_.clear();
  heartbeat_now_ = true;
  wake_.notify_one();
}

std::string GroupMembership::member_id() const {
  std::lock_guard lock(mutex_);
  return member_id_;
}

void GroupMembership::set_owned(std::set<TopicPartition> owned, uint64_t incarnation) {
  {
    std::lock_guard lock(mutex_);
    if (incarnation != incarnation_ || owned == owned_) return;
    owned_ = std::move(owned);
    heartbeat_now_ = true;
  }
  wake_.notify_one();
}

void GroupMembership::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, std::chrono::milliseconds(interval_ms_),
                   [this] { return stopping_ || heartbeat_now_; });
    if (stopping_) break;
    heartbeat_now_ = false;
    lock.unlock();
    heartbeat_once();
    lock.lock();
  }
}


void GroupMembership::heartbeat_once() {
  v1::HeartbeatRequest request;
  auto sent = Clock::now();
  uint64_t incarnation = 0;
  {
    std::lock_guard lock(mutex_);
    expire_if_lapsed_locked(sent);
    incarnation = incarnation_;
    request.set_group(options_.group);
    request.set_member_id(member_id_);
    request.set_member_epoch(member_epoch_);
    for (const auto& t : options_.topics) request.add_topics(t);
    request.set_topic_regex(options_.topic_regex);
    request.set_assignor(options_.assignor);
    request.set_session_timeout_ms(options_.session_timeout_ms);
    to_proto(owned_, request.mutable_owned());
  }
  auto broker = cluster_.coordinator(options_.group);
  if (!broker.ok()) {
    std::lock_guard lock(mutex_);
    interval_ms_ = static_cast<int32_t>(retry_backoff(cluster_.options(), ++failed_heartbeats_).count());
    cluster_.invalidate(kOffsetsTopic);
    return;
  }
  v1::HeartbeatResponse response;
  auto context = cluster_.context();
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    heartbeat_in_flight_ = context.get();
  }
  auto rpc = (*broker)->groups->Heartbeat(context.get(), request, &response);
  std::lock_guard lock(mutex_);
  heartbeat_in_flight_ = nullptr;
  if (stopping_) {
    // Cancelled by leave(), or about to be; a join that went through still
    // names the member leave() must remove.
    if (rpc.ok() && response.error().code() == v1::NONE && !response.member_id().empty()) {
      member_id_ = response.member_id();
      member_epoch_ = response.member_epoch();
    }
    return;
  }
  if (!rpc.ok()) {
    cluster_.invalidate(kOffsetsTopic);
    // The coordinator is unreachable (or restarting): retry after a backoff.
    interval_ms_ = static_cast<int32_t>(retry_backoff(cluster_.options(), ++failed_heartbeats_).count());
    reachability_.failed(error(from_grpc(rpc).code(), "heartbeat to {}: {}", (*broker)->address,
                               rpc.error_message()));
    return;
  }
  Status status = from_proto(response.error());
  if (status.code() == ErrorCode::not_leader) {
    // The coordinator moved (its offsets partition has a new leader): find
    // it again, backing off while none is ready; the new one knows no
    // member, so this one rejoins. A broker answered: not unreachable.
    reachability_.answered();
    cluster_.invalidate(kOffsetsTopic);
    interval_ms_ = static_cast<int32_t>(retry_backoff(cluster_.options(), ++failed_heartbeats_).count());
    return;
  }
  failed_heartbeats_ = 0;
  reachability_.answered();
  if (incarnation != incarnation_) {
    heartbeat_now_ = true;  // lost meanwhile: this answer is for the old membership
    return;
  }
  if (status.code() == ErrorCode::unknown_member_id || status.code() == ErrorCode::stale_member_epoch) {
    lose_membership_locked();
    return;
  }
  if (!status.ok()) return;
  accepted_heartbeat_sent_ = sent;
  member_id_ = response.member_id();
  member_epoch_ = response.member_epoch();
  interval_ms_ = std::max(50, response.heartbeat_interval_ms());
  target_ = from_proto(response.assignment());
}

Status GroupMembership::commit(const std::map<TopicPartition, Offset>& offsets,
                               uint64_t incarnation, Clock::time_point not_after) {
  if (offsets.empty()) return {};
  v1::CommitOffsetsRequest request;
  {
    std::lock_guard lock(mutex_);
    expire_if_lapsed_locked(Clock::now());
    if (incarnation != incarnation_) {
      return error(ErrorCode::stale_member_epoch,
                   "group {}: this member lost its membership (fenced, or its session lapsed) "
                   "since these positions were read; they are dropped, and the partitions are "
                   "read again from the committed offsets",
                   options_.group);
    }
    request.set_group(options_.group);
    request.set_member_id(member_id_);
    request.set_member_epoch(member_epoch_);
  }
  for (const auto& [tp, offset] : offsets) {
    auto* o = request.add_offsets();
    o->set_topic(tp.topic);
    o->set_partition(tp.partition);
    o->set_offset(offset.value);
  }
  auto broker = cluster_.coordinator(options_.group);
  if (!broker.ok()) return broker.status();
  v1::CommitOffsetsResponse response;
  auto rpc = (*broker)->groups->CommitOffsets(cluster_.context(not_after).get(), request, &response);
  if (!rpc.ok()) return from_grpc(rpc);
  Status committed = from_proto(response.error());
  if (committed.code() == ErrorCode::not_leader) cluster_.invalidate(kOffsetsTopic);
  return committed;
}

Result<std::map<TopicPartition, Offset>> GroupMembership::committed(
    const std::set<TopicPartition>& partitions) {
  v1::FetchOffsetsRequest request;
  request.set_group(options_.group);
  to_proto(partitions, request.mutable_partitions());
  auto broker = cluster_.coordinator(options_.group);
  if (!broker.ok()) return broker.status();
  v1::FetchOffsetsResponse response;
  auto rpc = (*broker)->groups->FetchOffsets(cluster_.context().get(), request, &response);
  if (!rpc.ok()) return from_grpc(rpc);
  Status fetched = from_proto(response.error());
  if (fetched.code() == ErrorCode::not_leader) cluster_.invalidate(kOffsetsTopic);
  CAIRN_RETURN_IF_ERROR(fetched);
  std::map<TopicPartition, Offset> out;
  for (const auto& o : response.offsets()) out[{o.topic(), o.partition()}] = Offset(o.offset());
  return out;
}

void GroupMembership::leave(Clock::time_point not_after) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    // Not waited for: a hung coordinator would hold it until the request timeout.
    if (heartbeat_in_flight_) heartbeat_in_flight_->TryCancel();
  }
  wake_.notify_one();
  thread_.join();
  if (member_id_.empty() || Clock::now() >= not_after) return;
  v1::HeartbeatRequest request;
  request.set_group(options_.group);
  request.set_member_id(member_id_);
  request.set_member_epoch(-1);
  auto broker = cluster_.coordinator(options_.group);
  if (!broker.ok()) return;
  v1::HeartbeatResponse response;
  (void)(*broker)->groups->Heartbeat(cluster_.context(not_after).get(), request, &response);
}

}  // namespace cairn::client
