#include "broker/group/group.h"

#include <random>
#include <regex>

#include <fmt/format.h>

#include "proto/topic_partition.h"

namespace cairn::broker {
namespace {

bool matches(const GroupMember& member, const std::string& topic) {
  if (member.topics.count(topic)) return true;
  if (member.topic_regex.empty() || is_internal_topic(topic)) return false;
  try {
    return std::regex_match(topic, std::regex(member.topic_regex));
  } catch (const std::regex_error&) {
    return false;  // rejected when the member joined
  }
}

}  // namespace

std::string Group::new_member_id() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  return fmt::format("{}-{:016x}", ++next_member_, rng());
}

std::set<std::string> Group::subscribed_topics() const {
  std::set<std::string> out;
  for (const auto& [topic, count] : resolved_topics_) out.insert(topic);
  return out;
}

std::map<std::string, int32_t> Group::resolve(const std::map<std::string, int32_t>& all) const {
  std::map<std::string, int32_t> out;
  for (const auto& [id, member] : members_) {
    for (const auto& [topic, count] : all) {
      if (matches(member, topic)) out[topic] = count;
    }
  }
  return out;
}

void Group::recompute(const TopicLookup& topics) {
  AssignorInput input;
  auto all = topics();
  for (const auto& [id, member] : members_) {
    auto& subscribed = input.subscriptions[id];
    for (const auto& [topic, count] : all) {
      if (matches(member, topic)) {
        subscribed.insert(topic);
        input.partitions[topic] = count;
      }
    }
  }
  input.current = target_;
  auto assigned = assign(assignor_, input);
  target_ = assigned.ok() ? std::move(*assigned) : assign_uniform(input);
  resolved_topics_ = input.partitions;
  ++epoch_;
}

std::set<TopicPartition> Group::grantable(const GroupMember& member) const {
  std::set<TopicPartition> out;
  auto it = target_.find(member.id);
  if (it == target_.end()) return out;
  for (const auto& tp : it->second) {
    bool owned_elsewhere = false;
    for (const auto& [id, other] : members_) {
      if (id != member.id && (other.owned.count(tp) || other.assigned.count(tp))) {
        owned_elsewhere = true;
        break;
      }
    }
    if (!owned_elsewhere) out.insert(tp);
  }
  return out;
}

Result<HeartbeatOutput> Group::heartbeat(const HeartbeatInput& input, int64_t now_ms,
                                         const TopicLookup& topics) {
  if (!input.topic_regex.empty()) {
    try {
      std::regex check(input.topic_regex);
    } catch (const std::regex_error& e) {
      return error(ErrorCode::invalid_request, "topic pattern '{}' is not a valid regex: {}",
                   input.topic_regex, e.what());
    }
  }
  bool changed = false;
  if (input.member_epoch == -1) {
    if (members_.erase(input.member_id)) {
      recompute(topics);
      if (members_.empty()) empty_since_ms_ = now_ms;
    }
    return HeartbeatOutput{input.member_id, -1, {}};
  }
  GroupMember* member = nullptr;
  if (input.member_epoch == 0) {
    std::string id = input.member_id.empty() ? new_member_id() : input.member_id;
    member = &members_[id];
    member->id = id;
    changed = true;
    if (!input.assignor.empty() && members_.size() == 1) assignor_ = input.assignor;
  } else {
    auto it = members_.find(input.member_id);
    if (it == members_.end()) {
      return error(ErrorCode::unknown_member_id,
                   "member {} is not in group {} (its session expired?): rejoin with epoch 0",
                   input.member_id, name_);
    }
    member = &it->second;
    if (input.member_epoch > member->epoch) {
      return error(ErrorCode::stale_member_epoch, "member {} sent epoch {} but has {}",
                   input.member_id, input.member_epoch, member->epoch);
    }
  }
  if (member->topics != input.topics || member->topic_regex != input.topic_regex) {
    member->topics = input.topics;
    member->topic_regex = input.topic_regex;
    changed = true;
  }
  member->owned = input.owned;
  member->last_heartbeat_ms = now_ms;
  member->session_timeout_ms = input.session_timeout_ms;
  std::string id = member->id;

  // New topics or partitions matching a subscription change the target too.
  if (changed || resolve(topics()) != resolved_topics_) recompute(topics);

  GroupMember& current = members_.at(id);
  // Keep what it owns and is still targeted; add what nobody else holds.
  std::set<TopicPartition> next = grantable(current);
  if (next != current.assigned || current.epoch == 0) {
    current.assigned = next;
    current.epoch = epoch_ > current.epoch ? epoch_ : current.epoch + 1;
  }
  return HeartbeatOutput{id, current.epoch, current.assigned};
}

bool Group::expire_members(int64_t now_ms, const TopicLookup& topics) {
  if (members_.empty() && empty_since_ms_ == 0) empty_since_ms_ = now_ms;  // e.g. replayed at start
  bool expired = false;
  for (auto it = members_.begin(); it != members_.end();) {
    if (now_ms - it->second.last_heartbeat_ms > it->second.session_timeout_ms) {
      it = members_.erase(it);
      expired = true;
    } else {
      ++it;
    }
  }
  if (expired) {
    recompute(topics);
    if (members_.empty()) empty_since_ms_ = now_ms;
  }
  return expired;
}

Status Group::validate_commit(const std::string& member_id, int32_t member_epoch,
                              const std::vector<TopicPartition>& partitions) const {
  if (member_id.empty()) {
    if (!members_.empty()) {
      return error(ErrorCode::group_not_empty,
                   "group {} has {} active member(s); only its members may commit now", name_,
                   members_.size());
    }
    return {};
  }
  auto it = members_.find(member_id);
  if (it == members_.end()) {
    return error(ErrorCode::unknown_member_id, "member {} is not in group {}", member_id, name_);
  }
  if (member_epoch != it->second.epoch) {
    return error(ErrorCode::stale_member_epoch,
                 "commit from member {} with epoch {}, but its epoch is {}: it was fenced",
                 member_id, member_epoch, it->second.epoch);
  }
  const GroupMember& member = it->second;
  for (const auto& tp : partitions) {
    if (!member.assigned.count(tp) && !member.owned.count(tp)) {
      return error(ErrorCode::stale_member_epoch,
                   "member {} of group {} commits to {}, which is not assigned to it: it was "
                   "fenced or moved; rejoin and read from the committed offset",
                   member_id, name_, tp);
    }
  }
  return {};
}

std::string Group::state() const {
  if (members_.empty()) return "empty";
  for (const auto& [id, member] : members_) {
    auto it = target_.find(id);
    std::set<TopicPartition> target = it == target_.end() ? std::set<TopicPartition>{} : it->second;
    if (member.assigned != target || member.owned != target) return "reconciling";
  }
  return "stable";
}

}  // namespace cairn::broker
