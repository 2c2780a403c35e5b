#pragma once

#include <optional>
#include <vector>

#include "broker/raft/membership.h"
#include "broker/raft/types.h"
#include "proto/status.h"

namespace cairn::raft {

// The term and vote of one node: what must survive a crash so that it
// never votes twice in a term nor goes back to an older term.
struct HardState {
  Term term{0};
  std::optional<NodeId> voted_for;
  // Set when disk damage took entries this node had made durable (and so
  // may have acknowledged): the end (exclusive) of what it held. Until its
  // log holds a leader's entries durably again past every entry any leader
  // committed, the node grants no vote and starts no election: with a hole
  // where a committed entry was, its vote could elect a leader lacking it.
  std::optional<Offset> lost_end;
  bool operator==(const HardState&) const = default;
};

// The small, synced state of one group on one node, kept beside the log
// (in production: the broker's metadata store, written synced).
//
// Rule: consensus saves the hard state before sending any message that
// depends on it and before appending entries of a new term to the log, so
// a crash that loses an unsaved term or vote loses nothing anyone has seen.
// Both save methods are durable when they return ok.
//
// The membership list holds the last committed membership and every later
// one found in the log (they take effect when appended, so they must be
// known after a restart without scanning the log). Entries past the log's
// end after a crash are dropped by consensus on start.
//
// Called only by the group's owner. Errors are returned, never thrown.
class DurableState {
 public:
  virtual ~DurableState() = default;

  virtual HardState hard_state() const = 0;
  virtual Status save_hard_state(const HardState& state) = 0;

  virtual std::vector<MembershipAt> memberships() const = 0;
  virtual Status save_memberships(const std::vector<MembershipAt>& memberships) = 0;
};

// DurableState in memory: saves are durable at once, so a simulated crash
// keeps exactly what was saved. Counts saves, so tests can assert the rule.
class InMemoryDurableState final : public DurableState {
 public:
  HardState hard_state() const override { return hard_state_; }
  Status save_hard_state(const HardState& state) override {
    hard_state_ = state;
    ++hard_state_saves_;
    return {};
  }
  std::vector<MembershipAt> memberships() const override { return memberships_; }
  Status save_memberships(const std::vector<MembershipAt>& memberships) override {
    memberships_ = memberships;
    return {};
  }
  int64_t hard_state_saves() const { return hard_state_saves_; }

 private:
  HardState hard_state_;
  std::vector<MembershipAt> memberships_;
  int64_t hard_state_saves_ = 0;
};

}  // namespace cairn::raft
