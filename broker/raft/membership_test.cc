#include <catch2/catch.hpp>

#include "broker/raft/test_cluster.h"

namespace cairn::raft {
namespace {

using testing::TestCluster;

// Nodes 1-3 found the group; node 4 starts outside it.
TestCluster cluster_with_spare() {
  return TestCluster(4, [](RaftOptions& o) {
    o.initial_voters = o.self == NodeId(4) ? std::vector<NodeId>{}
                                           : std::vector<NodeId>{NodeId(1), NodeId(2), NodeId(3)};
  });
}

TEST_CASE("raft.MembershipEncodingRoundTrips", "[raft][membership]") {
  Membership m{{NodeId(1), NodeId(2), NodeId(3)}, {NodeId(7)}};
  CHECK(m.encode() == "v=1,2,3;l=7");
  CHECK(Membership::decode(m.encode()) == m);
  CHECK(Membership::decode("v=1;l=") == Membership{{NodeId(1)}, {}});
  CHECK_FALSE(Membership::decode("v=;l=").has_value());      // no voter
  CHECK_FALSE(Membership::decode("v=1,1;l=").has_value());   // duplicate
  CHECK_FALSE(Membership::decode("v=1;l=1").has_value());    // both voter and learner
  CHECK_FALSE(Membership::decode("v=1,x;l=").has_value());
  CHECK(m.quorum_size() == 2);
  std::vector<NodeId> two_voters{NodeId(1), NodeId(3)};
  std::vector<NodeId> voter_and_learner{NodeId(1), NodeId(7)};
  CHECK(m.is_quorum(two_voters));
  CHECK_FALSE(m.is_quorum(voter_and_learner));
}

TEST_CASE("raft.LearnerCatchesUpBeforeItVotes", "[raft][membership]") {
  TestCluster cluster = cluster_with_spare();
  cluster.campaign(1);
  REQUIRE(cluster.raft(1).role() == Role::leader);
  for (int i = 0; i < 5; ++i) REQUIRE(cluster.raft(1).propose("p", 2).ok());
  cluster.deliver();
  cluster.node(4).auto_flush = false;  // the learner lags
  REQUIRE(cluster.raft(1).add_learner(NodeId(4)).ok());
  cluster.deliver();
  CHECK(cluster.raft(4).membership().is_learner(NodeId(4)));
  CHECK(cluster.raft(1).promote_learner(NodeId(4)).code() == ErrorCode::resource_exhausted);
  // A learner never campaigns.
  cluster.node(4).clock.advance_ms(5'000);
  REQUIRE(cluster.raft(4).tick().ok());
  CHECK(cluster.raft(4).role() == Role::follower);
  cluster.node(4).auto_flush = true;
  cluster.flush(4);
  cluster.deliver();
  REQUIRE(cluster.raft(1).promote_learner(NodeId(4)).ok());
  cluster.deliver();
  CHECK(cluster.raft(1).membership().voters.size() == 4);
  CHECK(cluster.raft(4).membership().is_voter(NodeId(4)));
}

// Under a steady load a learner slower than the voters never holds
// everything committed at one instant; it becomes a voter once it finishes a
// catch-up round within an election timeout, not after a slower round.
TEST_CASE("raft.ALearnerBehindTheVotersUnderASteadyLoadIsPromotedAfterAQuickRound", "[raft][membership]") {
  TestCluster cluster = cluster_with_spare();
  cluster.campaign(1);
  REQUIRE(cluster.raft(1).add_learner(NodeId(4)).ok());
  cluster.deliver();
  cluster.node(4).auto_flush = false;  // it syncs one proposal late, or not at all
  auto next_proposal = [&](bool learner_syncs) {
    if (learner_syncs) cluster.flush(4);
    REQUIRE(cluster.raft(1).propose("p", 2).ok());
    cluster.deliver();
    for (int id = 1; id <= 4; ++id) cluster.node(id).clock.advance_ms(10);
    REQUIRE(cluster.raft(1).progress(NodeId(4))->match_index < cluster.raft(1).commit_index());
  };
  // A round that takes longer than an election timeout (500 ms) does not count.
  next_proposal(true);
  CHECK(cluster.raft(1).promote_learner(NodeId(4)).code() == ErrorCode::resource_exhausted);
  for (int i = 0; i < 60; ++i) next_proposal(false);
  next_proposal(true);
  CHECK(cluster.raft(1).promote_learner(NodeId(4)).code() == ErrorCode::resource_exhausted);
  // The next round ends two proposals later.
  next_proposal(true);
  next_proposal(true);
  REQUIRE(cluster.raft(1).promote_learner(NodeId(4)).ok());
  cluster.node(4).auto_flush = true;
  cluster.flush(4);
  cluster.deliver();
  CHECK(cluster.raft(1).membership().voters.size() == 4);
  CHECK(cluster.raft(4).membership().is_voter(NodeId(4)));
}

TEST_CASE("raft.OneMembershipChangeAtATime", "[raft][membership]") {
  TestCluster cluster = cluster_with_spare();
  cluster.campaign(1, [](int, int, const Message& m) { return std::holds_alternative<AppendRequest>(m); });
  // The leader has not committed its no-op yet.
  CHECK(cluster.raft(1).add_learner(NodeId(4)).code() == ErrorCode::resource_exhausted);
  cluster.advance_ms(100);
  REQUIRE(cluster.raft(1).add_learner(NodeId(4)).ok());
  CHECK(cluster.raft(1).remove_member(NodeId(3)).code() == ErrorCode::resource_exhausted);
}

TEST_CASE("raft.MembershipChangeSurvivesALeaderCrashInTheMiddle", "[raft][membership]") {
  TestCluster cluster = cluster_with_spare();
  cluster.campaign(1);
  REQUIRE(cluster.raft(1).add_learner(NodeId(4)).ok());
  cluster.deliver();
  // The promotion reaches only the leader's own disk, then the leader dies.
  REQUIRE(cluster.raft(1).promote_learner(NodeId(4)).ok());
  CHECK(cluster.raft(1).membership().is_voter(NodeId(4)));  // in effect once appended
  cluster.flush(1);
  cluster.take_outbox(1);
  cluster.crash(1);
  CHECK(cluster.node(1).durable.memberships().back().membership.is_voter(NodeId(4)));

  auto leader = cluster.wait_for_leader();
  REQUIRE(leader.has_value());
  REQUIRE(*leader != 1);
  CHECK(cluster.raft(*leader).membership().is_learner(NodeId(4)));  // the change never happened
  cluster.start(1);
  CHECK(cluster.raft(1).membership().is_voter(NodeId(4)));  // from its durable list
  cluster.advance_ms(500);
  // Rejoining, the old leader truncates the uncommitted change and reverts.
  CHECK(cluster.raft(1).membership().is_learner(NodeId(4)));
  CHECK(cluster.node(1).durable.memberships().back().membership.is_learner(NodeId(4)));

  REQUIRE(cluster.raft(*leader).promote_learner(NodeId(4)).ok());
  cluster.deliver();
  for (int id = 1; id <= 4; ++id) CHECK(cluster.raft(id).membership().voters.size() == 4);
  // Four voters: quorum is three, so the group survives one more crash.
  int other = *leader == 2 ? 3 : 2;
  cluster.crash(other);
  auto index = cluster.raft(*leader).propose("after");
  REQUIRE(index.ok());
  cluster.deliver();
  CHECK(cluster.raft(*leader).commit_index() == *index);
}

// A follower that jumps over trimmed membership entries must still learn
// the membership they made (simulator seed 5375 lost acknowledged entries
// when it did not).
TEST_CASE("raft.JumpingFollowerLearnsTheCommittedMembership", "[raft][membership]") {
  TestCluster cluster = cluster_with_spare();
  cluster.campaign(1);
  cluster.isolate(3);
  REQUIRE(cluster.raft(1).add_learner(NodeId(4)).ok());
  cluster.deliver();
  REQUIRE(cluster.raft(1).promote_learner(NodeId(4)).ok());
  cluster.deliver();
  for (int i = 0; i < 5; ++i) REQUIRE(cluster.raft(1).propose("p").ok());
  cluster.deliver();
  Offset commit = cluster.raft(1).commit_index();
  REQUIRE(commit == cluster.node(1).log.last_index());
  cluster.node(1).log.trim_prefix(commit);  // the membership entries are gone
  cluster.heal();
  cluster.advance_ms(300);
  CHECK(cluster.node(3).log.first_index() == commit + 1);
  CHECK(cluster.raft(3).membership() == cluster.raft(1).membership());
  CHECK(cluster.raft(3).membership().voters.size() == 4);
  CHECK(cluster.node(3).durable.memberships().back().membership == cluster.raft(1).membership());
}

TEST_CASE("raft.RemovedLeaderStepsDownOnceTheRemovalCommits", "[raft][membership]") {
  TestCluster cluster(3);
  cluster.campaign(1);
  REQUIRE(cluster.raft(1).remove_member(NodeId(1)).ok());
  CHECK(cluster.raft(1).role() == Role::leader);  // until committed
  cluster.deliver();
  CHECK(cluster.raft(1).role() == Role::follower);
  auto leader = cluster.wait_for_leader();
  REQUIRE(leader.has_value());
  CHECK(*leader != 1);
  CHECK(cluster.raft(*leader).membership().voters == std::vector<NodeId>{NodeId(2), NodeId(3)});
}

}  // namespace
}  // namespace cairn::raft
