#include <catch2/catch.hpp>

#include "broker/raft_state_file.h"
#include "storage/fault_injection_env.h"

using namespace cairn;
using namespace cairn::broker;
using cairn::raft::HardState;
using cairn::raft::Membership;
using cairn::raft::MembershipAt;
using cairn::raft::NodeId;
using cairn::storage::CrashMode;
using cairn::storage::FaultInjectionEnv;

namespace {

constexpr char kPath[] = "/data/.raft/events/0";

std::unique_ptr<RaftStateFile> open_state(FaultInjectionEnv& env) {
  auto opened = RaftStateFile::open(env, kPath);
  INFO(opened.status().to_string());
  REQUIRE(opened.ok());
  return std::move(*opened);
}

}  // namespace

TEST_CASE("AFreshGroupHasTermZeroAndNoVote", "[raft-state]") {
  FaultInjectionEnv env;
  auto state = open_state(env);
  CHECK(state->hard_state() == HardState{});
  CHECK(state->memberships().empty());
}

TEST_CASE("TermVoteAndMembershipsSurviveAPowerLossOnceSaved", "[raft-state]") {
  FaultInjectionEnv env;
  const HardState voted{Term(7), NodeId(2), std::nullopt};
  // The founding membership sits at the base: index -1.
  const std::vector<MembershipAt> memberships{
      {Offset(-1), Membership{{NodeId(1), NodeId(2), NodeId(3)}, {}}},
      {Offset(42), Membership{{NodeId(1), NodeId(2), NodeId(3)}, {NodeId(4)}}}};
  {
    auto state = open_state(env);
    REQUIRE(state->save_hard_state(voted).ok());
    REQUIRE(state->save_memberships(memberships).ok());
  }
  env.crash(CrashMode::power_loss);
  auto state = open_state(env);
  CHECK(state->hard_state() == voted);
  CHECK(state->memberships() == memberships);

  // A new term without a vote, written over the old one.
  REQUIRE(state->save_hard_state({Term(8), std::nullopt, std::nullopt}).ok());
  env.crash(CrashMode::power_loss);
  CHECK(open_state(env)->hard_state() == HardState{Term(8), std::nullopt, std::nullopt});

  // A replica repairing a damaged log, with and without a vote.
  for (const HardState& repairing : {HardState{Term(8), std::nullopt, Offset(812)},
                                     HardState{Term(9), NodeId(3), Offset(0)}}) {
    REQUIRE(state->save_hard_state(repairing).ok());
    env.crash(CrashMode::power_loss);
    CHECK(open_state(env)->hard_state() == repairing);
  }
}

TEST_CASE("AJoiningReplicaThatKnowsNoMembersYetReopens", "[raft-state]") {
  // A replica that joined a group saves its empty start with the first
  // membership its leader's log brings, before it learns that one is
  // committed; a crash then must not leave a file it cannot open.
  FaultInjectionEnv env;
  const std::vector<MembershipAt> memberships{
      {Offset(-1), Membership{}},
      {Offset(9), Membership{{NodeId(1), NodeId(2), NodeId(3)}, {NodeId(4)}}}};
  REQUIRE(open_state(env)->save_memberships(memberships).ok());
  env.crash(CrashMode::power_loss);
  CHECK(open_state(env)->memberships() == memberships);
}

TEST_CASE("AFailedSaveChangesNothingNowOrAfterAPowerLoss", "[raft-state]") {
  FaultInjectionEnv env;
  auto state = open_state(env);
  REQUIRE(state->save_hard_state({Term(3), NodeId(1), std::nullopt}).ok());
  env.fail_next_syncs(1);
  CHECK(state->save_hard_state({Term(4), NodeId(2), std::nullopt}).code() == ErrorCode::io_error);
  CHECK(state->hard_state() == HardState{Term(3), NodeId(1), std::nullopt});
  state.reset();
  env.crash(CrashMode::power_loss);
  CHECK(open_state(env)->hard_state() == HardState{Term(3), NodeId(1), std::nullopt});
}

TEST_CASE("AGarbledStateFileIsAnErrorNeverAFreshStart", "[raft-state]") {
  FaultInjectionEnv env;
  REQUIRE(open_state(env)->save_hard_state({Term(5), NodeId(1), std::nullopt}).ok());
  for (const char* garbled : {"term=5 voted_for=one\n", "term=5 voted_for=1 lost_end=\n",
                              "term=5 voted_for=- lost_end=-3\n"}) {
    *env.contents(kPath) = garbled;
    auto opened = RaftStateFile::open(env, kPath);
    INFO(garbled);
    REQUIRE_FALSE(opened.ok());
    CHECK(opened.status().code() == ErrorCode::storage_corrupt);
    CHECK_THAT(opened.status().message(), Catch::Contains(kPath));
  }
}
