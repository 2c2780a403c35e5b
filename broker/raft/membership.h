#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "broker/raft/types.h"

namespace cairn::raft {

// The members of one group: voters elect leaders and form quorums; learners
// receive the log but neither vote nor count. A node is in at most one list.
// Changes are made one server at a time (add a learner, promote a learner,
// remove a member), which keeps any two consecutive majorities overlapping
// without joint consensus (Ongaro's dissertation, §4.1).
//
// Encoding (the payload of an EntryType::membership entry), ASCII:
//   "v=" id ("," id)* ";l=" [id ("," id)*]     e.g. "v=1,2,3;l=4"
// Ids are decimal int64; voters is never empty.
struct Membership {
  std::vector<NodeId> voters;    // sorted, unique, non-empty once configured
  std::vector<NodeId> learners;  // sorted, unique, disjoint from voters

  bool is_voter(NodeId id) const;
  bool is_learner(NodeId id) const;
  bool contains(NodeId id) const { return is_voter(id) || is_learner(id); }
  // The number of voters that form a majority.
  size_t quorum_size() const { return voters.size() / 2 + 1; }
  // Whether the voters among `ids` form a majority. `ids` may hold non-voters.
  bool is_quorum(std::span<const NodeId> ids) const;

  std::string encode() const;
  static std::optional<Membership> decode(std::string_view payload);
  bool operator==(const Membership&) const = default;
};

// A membership and the index of the entry that introduced it (the base
// index for the bootstrap membership).
struct MembershipAt {
  Offset index;
  Membership membership;
  bool operator==(const MembershipAt&) const = default;
};

}  // namespace cairn::raft

template <>
struct fmt::formatter<cairn::raft::Membership> : fmt::formatter<std::string_view> {
  auto format(const cairn::raft::Membership& m, format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(m.encode(), ctx);
  }
};
