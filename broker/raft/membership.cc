#include "broker/raft/membership.h"

#include <algorithm>
#include <charconv>

namespace cairn::raft {

bool Membership::is_voter(NodeId id) const {
  return std::binary_search(voters.begin(), voters.end(), id);
}

bool Membership::is_learner(NodeId id) const {
  return std::binary_search(learners.begin(), learners.end(), id);
}

bool Membership::is_quorum(std::span<const NodeId> ids) const {
  size_t count = 0;
  for (NodeId voter : voters) {
    if (std::find(ids.begin(), ids.end(), voter) != ids.end()) ++count;
  }
  return count >= quorum_size();
}

namespace {

void append_ids(std::string& out, const std::vector<NodeId>& ids) {
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(ids[i].value);
  }
}

// Parses "id,id,..." (possibly empty) into sorted unique ids.
std::optional<std::vector<NodeId>> parse_ids(std::string_view text) {
  std::vector<NodeId> ids;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    int64_t value = 0;
    auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), value);
    if (ec != std::errc() || end != item.data() + item.size()) return std::nullopt;
    ids.push_back(NodeId(value));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  std::sort(ids.begin(), ids.end());
  if (std::adjacent_find(ids.begin(), ids.end()) != ids.end()) return std::nullopt;
  return ids;
}

}  // namespace

std::string Membership::encode() const {
  std::string out = "v=";
  append_ids(out, voters);
  out += ";l=";
  append_ids(out, learners);
  return out;
}

std::optional<Membership> Membership::decode(std::string_view payload) {
  size_t separator = payload.find(";l=");
  if (!payload.starts_with("v=") || separator == std::string_view::npos) return std::nullopt;
  auto voters = parse_ids(payload.substr(2, separator - 2));
  auto learners = parse_ids(payload.substr(separator + 3));
  if (!voters || !learners || voters->empty()) return std::nullopt;
  for (NodeId id : *learners) {
    if (std::binary_search(voters->begin(), voters->end(), id)) return std::nullopt;
  }
  return Membership{std::move(*voters), std::move(*learners)};
}

}  // namespace cairn::raft
