#pragma once

#include <string>
#include <variant>
#include <vector>

#include "broker/raft/membership.h"
#include "broker/raft/types.h"

namespace cairn::raft {

// The messages of one group. Every message carries the sender's term and
// id; the transport adds the group id when it multiplexes groups. A message
// may be lost, duplicated, delayed or reordered: handlers tolerate all four.

// RequestVote, or its pre-vote probe (§9.6 of Ongaro's dissertation): a
// pre-vote asks "would you vote for me in `term`?" and changes no state.
struct VoteRequest {
  Term term;  // the term the candidate runs in (current + 1 for a pre-vote)
  NodeId from;
  Offset last_index;
  Term last_term;
  bool pre_vote = false;
  bool transfer = false;  // sent after TimeoutNow: voters ignore their leader lease
  bool operator==(const VoteRequest&) const = default;
};

struct VoteResponse {
  Term term;  // the request's term if granted, else the voter's term
  NodeId from;
  bool pre_vote = false;
  bool granted = false;
  bool operator==(const VoteResponse&) const = default;
};

// AppendEntries; a heartbeat when `entries` is empty. prev_index is the last
// index of the entry that precedes entries[0].
struct AppendRequest {
  Term term;
  NodeId from;
  Offset prev_index;
  Term prev_term;
  Offset commit_index;
  std::vector<Entry> entries;
  bool operator==(const AppendRequest&) const = default;
};

// On success, match_index is the last index that the follower both holds
// as the leader sent it and has made durable; appended_index is the last
// index it holds as the leader sent it, durable or not (where to continue
// sending). On failure, (hint_index,
// hint_term) is the last entry end at or below the rejected prev_index
// whose term is at most the request's prev_term: the leader skips back
// past whole terms instead of one entry per round trip.
struct AppendResponse {
  Term term;
  NodeId from;
  bool success = false;
  Offset match_index;
  Offset appended_index;
  Offset rejected_prev;
  Offset hint_index;
  Term hint_term;
  // The follower is repairing a log that disk damage shortened
  // (HardState::lost_end): it may hold less than it acknowledged before,
  // and a rejection at or below its old match index is news, not stale.
  bool repairing = false;
  bool operator==(const AppendResponse&) const = default;
};

// Tells a follower whose next needed index was trimmed from the leader's
// log to drop its log and restart it after (base_index, base_term), which
// the leader guarantees is committed. Carries the leader's last committed
// membership, which the follower may never see in the log it skips.
// Answered by an AppendResponse.
struct JumpRequest {
  Term term;
  NodeId from;
  Offset base_index;
  Term base_term;
  Offset commit_index;
  MembershipAt membership;
  bool operator==(const JumpRequest&) const = default;
};

// Leadership transfer: "start an election now, skipping pre-vote".
struct TimeoutNow {
  Term term;
  NodeId from;
  bool operator==(const TimeoutNow&) const = default;
};

using Message =
    std::variant<VoteRequest, VoteResponse, AppendRequest, AppendResponse, JumpRequest, TimeoutNow>;

Term message_term(const Message& message);
NodeId message_from(const Message& message);
// One readable line, for traces.
std::string describe(const Message& message);

}  // namespace cairn::raft
