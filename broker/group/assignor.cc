#include "broker/group/assignor.h"

#include <algorithm>
#include <vector>

namespace cairn::broker {
namespace {

std::vector<std::string> subscribers_of(const AssignorInput& input, const std::string& topic) {
  std::vector<std::string> out;
  for (const auto& [member, topics] : input.subscriptions) {
    if (topics.count(topic)) out.push_back(member);
  }
  return out;  // std::map order: sorted by member id
}

}  // namespace

Assignment assign_range(const AssignorInput& input) {
  Assignment out;
  for (const auto& [member, topics] : input.subscriptions) out[member];
  for (const auto& [topic, count] : input.partitions) {
    auto members = subscribers_of(input, topic);
    if (members.empty()) continue;
    auto n = static_cast<int32_t>(members.size());
    int32_t per = count / n;
    int32_t extra = count % n;
    int32_t next = 0;
    for (int32_t i = 0; i < n; ++i) {
      int32_t take = per + (i < extra ? 1 : 0);
      for (int32_t k = 0; k < take; ++k) out[members[static_cast<size_t>(i)]].insert({topic, next++});
    }
  }
  return out;
}

Assignment assign_uniform(const AssignorInput& input) {
  Assignment out;
  for (const auto& [member, topics] : input.subscriptions) out[member];
  std::map<TopicPartition, std::string> owner;
  // Keep what is still valid: the member exists, subscribes, the partition exists.
  for (const auto& [member, partitions] : input.current) {
    auto sub = input.subscriptions.find(member);
    if (sub == input.subscriptions.end()) continue;
    for (const auto& tp : partitions) {
      auto count = input.partitions.find(tp.topic);
      if (count == input.partitions.end() || tp.partition >= count->second || !sub->second.count(tp.topic)) continue;
      out[member].insert(tp);
      owner[tp] = member;
    }
  }
  auto least_loaded = [&](const std::vector<std::string>& candidates) {
    return *std::min_element(candidates.begin(), candidates.end(), [&](const auto& a, const auto& b) {
      return out[a].size() < out[b].size() || (out[a].size() == out[b].size() && a < b);
    });
  };
  // Place every unowned partition on its least-loaded subscriber.
  for (const auto& [topic, count] : input.partitions) {
    auto members = subscribers_of(input, topic);
    if (members.empty()) continue;
    for (int32_t p = 0; p < count; ++p) {
      TopicPartition tp{topic, p};
      if (owner.count(tp)) continue;
      const std::string& member = least_loaded(members);
      out[member].insert(tp);
      owner[tp] = member;
    }
  }
  // Even out: move one partition at a time from the most- to a less-loaded
  // subscriber of it while that narrows the gap. Bounded by the partition count.
  size_t moves_left = owner.size() + 1;
  bool moved = true;
  while (moved && moves_left-- > 0) {
    moved = false;
    for (auto& [tp, from] : owner) {
      auto members = subscribers_of(input, tp.topic);
      const std::string& to = least_loaded(members);
      if (out[from].size() > out[to].size() + 1) {
        out[from].erase(tp);
        out[to].insert(tp);
        from = to;
        moved = true;
        break;
      }
    }
  }
  return out;
}

Result<Assignment> assign(const std::string& name, const AssignorInput& input) {
  if (name.empty() || name == "uniform") return assign_uniform(input);
  if (name == "range") return assign_range(input);
  return error(ErrorCode::invalid_request, "unknown assignor '{}': use uniform or range", name);
}

}  // namespace cairn::broker
