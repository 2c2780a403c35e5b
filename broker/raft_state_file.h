#pragma once

#include <memory>
#include <string>
#include <vector>

#include "broker/raft/durable_state.h"
#include "proto/status.h"
#include "storage/env.h"

namespace cairn::broker {

// One Raft group's term, vote and memberships (raft::DurableState) in a
// small text file the broker keeps per replica, apart from the segments:
//   term=5 voted_for=2            (voted_for=- : no vote in this term)
//   term=5 voted_for=- lost_end=812   (repairing a damaged log: raft::HardState)
//   membership index=10 v=1,2,3;l=
// Every save replaces the whole file durably (storage/durable_file.h), so it
// returns only once a power loss can no longer take the change back.
class RaftStateFile final : public raft::DurableState {
 public:
  // The state in `path` (its folder is created); none there is a fresh
  // group: term 0, no vote, no membership. An unreadable file is an error
  // naming it, never a silent reset (that could vote twice in a term).
  static Result<std::unique_ptr<RaftStateFile>> open(storage::Env& env, std::string path);

  raft::HardState hard_state() const override { return hard_state_; }
  Status save_hard_state(const raft::HardState& state) override;
  std::vector<raft::MembershipAt> memberships() const override { return memberships_; }
  Status save_memberships(const std::vector<raft::MembershipAt>& memberships) override;

 private:
  RaftStateFile(storage::Env& env, std::string path) : env_(env), path_(std::move(path)) {}
  Status save(const raft::HardState& state, const std::vector<raft::MembershipAt>& memberships);

  storage::Env& env_;
  const std::string path_;
  raft::HardState hard_state_;
  std::vector<raft::MembershipAt> memberships_;
};

}  // namespace cairn::broker
