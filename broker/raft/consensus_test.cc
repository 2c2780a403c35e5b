#include <catch2/catch.hpp>

#include "broker/raft/test_cluster.h"

// One test per rule of the protocol, on a hand-driven cluster
// (test_cluster.h): messages move only when deliver() is called.

namespace cairn::raft {
namespace {

using testing::TestCluster;

template <typename T>
std::vector<T> sent(TestCluster& cluster, int id) {
  std::vector<T> out;
  for (auto& [to, message] : cluster.take_outbox(id)) {
    if (auto* m = std::get_if<T>(&message)) out.push_back(*m);
  }
  return out;
}

bool is_append(const Message& m) { return std::holds_alternative<AppendRequest>(m); }

VoteRequest vote_request(int64_t term, int64_t from, int64_t last_index, int64_t last_term) {
  return VoteRequest{Term(term), NodeId(from), Offset(last_index), Term(last_term), false, false};
}

TEST_CASE("raft.VoteIsGrantedOncePerTermAndSavedBeforeTheAnswer", "[raft][election]") {
  TestCluster cluster(3);
  auto& node = cluster.node(1);
  bool saved_before_send = false;
  node.transport.on_send = [&](NodeId, const Message& m) {
    if (auto* r = std::get_if<VoteResponse>(&m); r && r->granted) {
      saved_before_send = node.durable.hard_state() == HardState{Term(1), NodeId(2), std::nullopt};
    }
  };
  REQUIRE(cluster.raft(1).handle(vote_request(1, 2, -1, 0)).ok());
  CHECK(saved_before_send);
  REQUIRE(cluster.raft(1).handle(vote_request(1, 3, -1, 0)).ok());
  REQUIRE(cluster.raft(1).handle(vote_request(1, 2, -1, 0)).ok());  // a duplicate
  auto responses = sent<VoteResponse>(cluster, 1);
  REQUIRE(responses.size() == 3);
  CHECK(responses[0].granted);
  CHECK_FALSE(responses[1].granted);  // already voted for 2 in term 1
  CHECK(responses[2].granted);
}

TEST_CASE("raft.CandidateSavesItsTermAndVoteBeforeAskingForVotes", "[raft][election][durability]") {
  TestCluster cluster(3);
  auto& node = cluster.node(1);
  int checked = 0;
  node.transport.on_send = [&](NodeId, const Message& m) {
    auto* request = std::get_if<VoteRequest>(&m);
    if (request == nullptr) return;
    HardState saved = node.durable.hard_state();
    if (request->pre_vote) {
      CHECK(saved.term + 1 == request->term);  // a pre-vote changes nothing
    } else {
      CHECK(saved == HardState{request->term, NodeId(1), std::nullopt});
    }
    ++checked;
  };
  cluster.campaign(1);
  CHECK(checked == 4);  // two pre-votes, two votes
  CHECK(cluster.raft(1).role() == Role::leader);
}

TEST_CASE("raft.VoteIsRefusedToACandidateWithAnOlderLog", "[raft][election]") {
  TestCluster cluster(3);
  cluster.restart_with_log(1, {{1, 1}, {2, 3}}, Term(2));  // last index 3, term 2
  REQUIRE(cluster.raft(1).handle(vote_request(3, 2, 10, 1)).ok());  // longer, older term
  REQUIRE(cluster.raft(1).handle(vote_request(4, 2, 2, 2)).ok());   // same term, shorter
  REQUIRE(cluster.raft(1).handle(vote_request(5, 2, 3, 2)).ok());   // as up to date
  auto responses = sent<VoteResponse>(cluster, 1);
  REQUIRE(responses.size() == 3);
  CHECK_FALSE(responses[0].granted);
  CHECK_FALSE(responses[1].granted);
  CHECK(responses[2].granted);
  CHECK(cluster.raft(1).term() == Term(5));
}

TEST_CASE("raft.AReplicaThatLostCommittedEntriesNeverElectsALeaderWithoutThem", "[raft][election][durability]") {
  TestCluster cluster(3);
  cluster.campaign(1);
  REQUIRE(cluster.raft(1).role() == Role::leader);
  // Committed by nodes 1 and 2 while node 3 hears nothing.
  cluster.isolate(3);
  auto index = cluster.raft(1).propose("acknowledged");
  REQUIRE(index.ok());
  cluster.deliver();
  REQUIRE(cluster.raft(1).commit_index() == *index);
  // Node 2's disk loses it; then the leader dies.
  cluster.restart_damaged(2, *index);
  CHECK(cluster.raft(2).repairing());
  cluster.crash(1);
  cluster.heal();
  // Node 3 lacks the entry: node 2 must not vote for it, however long.
  cluster.advance_ms(10'000);
  CHECK_FALSE(cluster.leader().has_value());
  CHECK(cluster.raft(2).repairing());
  // The node that has it returns: the group elects a leader that holds it,
  // and node 2 gets it back and votes again.
  cluster.start(1);
  auto leader = cluster.wait_for_leader();
  REQUIRE(leader.has_value());
  CHECK(*leader == 1);
  auto after = cluster.raft(*leader).propose("after");
  REQUIRE(after.ok());
  cluster.advance_ms(500);  // heartbeats carry the commit index
  CHECK(cluster.raft(2).commit_index() == *after);
  CHECK(cluster.node(2).log.term_at(*index).has_value());
  CHECK_FALSE(cluster.raft(2).repairing());
  CHECK_FALSE(cluster.node(2).durable.hard_state().lost_end.has_value());
}

TEST_CASE("raft.ARepairingNodeVotesForACandidateThatHoldsAllItLost", "[raft][election][durability]") {
  TestCluster cluster(3);
  cluster.campaign(1);
  REQUIRE(cluster.raft(1).role() == Role::leader);
  auto index = cluster.raft(1).propose("acknowledged");
  REQUIRE(index.ok());
  cluster.deliver();
  REQUIRE(cluster.raft(1).commit_index() == *index);
  // Node 2's disk loses the entry, which node 3 holds too; then the leader
  // dies. Node 3 needs node 2's vote, and has all node 2 lost.
  cluster.restart_damaged(2, *index);
  REQUIRE(cluster.raft(2).repairing());
  cluster.crash(1);
  auto leader = cluster.wait_for_leader();
  REQUIRE(leader.has_value());
  CHECK(*leader == 3);
  auto after = cluster.raft(3).propose("after");
  REQUIRE(after.ok());
  cluster.advance_ms(500);
  CHECK(cluster.raft(2).commit_index() == *after);
  CHECK_FALSE(cluster.raft(2).repairing());
}

TEST_CASE("raft.ALeaderRefillsAFollowerThatLostWhatItHadAcknowledged", "[raft][replication][durability]") {
  TestCluster cluster(3);
  cluster.campaign(1);
  auto index = cluster.raft(1).propose("acknowledged");
  REQUIRE(index.ok());
  cluster.deliver();
  REQUIRE(cluster.raft(1).progress(NodeId(2))->match_index == *index);
  // The leader believes node 2 holds it; node 2's disk lost it.
  cluster.restart_damaged(2, *index);
  cluster.advance_ms(500);
  CHECK(cluster.node(2).log.last_index() == *index);
  CHECK(cluster.raft(1).progress(NodeId(2))->match_index == *index);
  CHECK_FALSE(cluster.raft(2).repairing());
}

TEST_CASE("raft.ARepairEndsAtALaterLeadersOwnCommitWhenWhatWasLostIsGone", "[raft][election][durability]") {
  TestCluster cluster(3);
  // Node 2 held [1..3] of term 1, which no one else has (never committed),
  // and its disk lost them.
  cluster.restart_with_log(1, {{1, 1}}, Term(1));
  cluster.restart_with_log(3, {{1, 1}}, Term(1));
  cluster.restart_with_log(2, {{1, 1}, {1, 3}}, Term(1));
  cluster.restart_damaged(2, Offset(1));
  cluster.campaign(1);
  REQUIRE(cluster.raft(1).role() == Role::leader);
  cluster.advance_ms(500);
  // The new leader's log never reaches what node 2 lost; its commit of its
  // own term covers everything ever committed.
  CHECK(cluster.node(2).log.last_index() < Offset(3));
  CHECK(cluster.raft(2).commit_index() == cluster.raft(1).commit_index());
  CHECK_FALSE(cluster.raft(2).repairing());
}

TEST_CASE("raft.TheOnlyVoterDoesNotWaitForARepairNoOneCanMake", "[raft][election][durability]") {
  TestCluster cluster(1);
  cluster.campaign(1);
  auto index = cluster.raft(1).propose("lost");
  REQUIRE(index.ok());
  cluster.deliver();
  cluster.restart_damaged(1, *index);
  CHECK_FALSE(cluster.raft(1).repairing());
  CHECK(cluster.wait_for_leader() == 1);
}

TEST_CASE("raft.ANewGroupIsFirstLedByTheFounderThatCampaignsFirst", "[raft][election]") {
  for (int first = 1; first <= 3; ++first) {
    INFO("campaigning first: node " << first);
    TestCluster cluster(3, [first](RaftOptions& o) { o.campaign_first = o.self == NodeId(first); });
    // Before anyone's election timeout (at least election_timeout_min_ms).
    cluster.advance_ms(100);
    CHECK(cluster.leader() == first);
    CHECK(cluster.raft(first).term() == Term(1));
  }
}

TEST_CASE("raft.ANodeThatSawATermDoesNotCampaignFirst", "[raft][election]") {
  TestCluster cluster(3, [](RaftOptions& o) { o.campaign_first = o.self == NodeId(1); });
  cluster.restart_with_log(1, {}, Term(1));  // an empty log, but it voted in term 1
  // Its first campaign waits for an election timeout, as anyone's.
  CHECK(cluster.raft(1).next_tick_ms() >= cluster.node(1).clock.now_ms() + 500);
}

TEST_CASE("raft.AFounderCampaignsFirstOnlyForAWhile", "[raft][election]") {
  TestCluster cluster(3, [](RaftOptions& o) { o.campaign_first = o.self == NodeId(1); });
  // Its peers never hear it: it keeps asking, every heartbeat at first.
  cluster.isolate(1);
  auto& node = cluster.node(1);
  int late_requests = 0;  // sent after two election timeouts (1,000 ms at most each)
  node.transport.on_send = [&](NodeId, const Message& m) {
    if (std::holds_alternative<VoteRequest>(m) && node.clock.now_ms() >= 2'500) ++late_requests;
  };
  cluster.advance_ms(3'500);
  // A round to each of 2 peers per election timeout (>= 500 ms), not per
  // heartbeat (100 ms, 20 requests in that second).
  CHECK(late_requests <= 6);
}

TEST_CASE("raft.LeaderStepsDownOnHigherTerm", "[raft][election]") {
  TestCluster cluster(3);
  cluster.campaign(1);
  REQUIRE(cluster.raft(1).role() == Role::leader);
  Term term = cluster.raft(1).term();
  AppendResponse higher{term + 1, NodeId(2), false, Offset(-1), Offset(-1), Offset(0), Offset(-1), Term(0), false};
  REQUIRE(cluster.raft(1).handle(higher).ok());
  CHECK(cluster.raft(1).role() == Role::follower);
  CHECK(cluster.raft(1).term() == term + 1);
  CHECK_FALSE(cluster.raft(1).leader().has_value());
}

TEST_CASE("raft.StaleLeaderIsToldTheNewTerm", "[raft][election]") {
  TestCluster cluster(3);
  cluster.restart_with_log(1, {{1, 1}}, Term(5));
  AppendRequest stale{Term(3), NodeId(2), Offset(0), Term(1), Offset(0), {}};
  REQUIRE(cluster.raft(1).handle(stale).ok());
  auto responses = sent<AppendResponse>(cluster, 1);
  REQUIRE(responses.size() == 1);
  CHECK_FALSE(responses[0].success);
  CHECK(responses[0].term == Term(5));
}

TEST_CASE("raft.ConflictingSuffixIsTruncatedAtAnEntryBoundary", "[raft][replication]") {
  TestCluster cluster(3);
  cluster.restart_with_log(1, {{1, 1}, {1, 2}, {1, 1}}, Term(1));  // [0] [1..2] [3], all term 1
  AppendRequest request{Term(2), NodeId(2), Offset(0), Term(1), Offset(-1),
                        {Entry{Term(2), Offset(1), Offset(1), EntryType::data, "a"},
                         Entry{Term(2), Offset(2), Offset(4), EntryType::data, "b"}}};
  REQUIRE(cluster.raft(1).handle(request).ok());
  const auto& entries = cluster.node(1).log.entries();
  REQUIRE(entries.size() == 3);
  CHECK(entries[1].term == Term(2));
  CHECK(entries[1].payload == "a");
  CHECK(entries[2].first == Offset(2));
  CHECK(entries[2].last == Offset(4));
  CHECK(cluster.node(1).log.flushed_index() == Offset(0));  // truncation lowered it
}

TEST_CASE("raft.DuplicateOrReorderedAppendDoesNotTruncate", "[raft][replication]") {
  TestCluster cluster(3);
  AppendRequest second{Term(1), NodeId(2), Offset(0), Term(1), Offset(-1),
                       {Entry{Term(1), Offset(1), Offset(2), EntryType::data, "b"}}};
  AppendRequest first{Term(1), NodeId(2), Offset(-1), Term(0), Offset(-1),
                      {Entry{Term(1), Offset(0), Offset(0), EntryType::data, "a"}}};
  REQUIRE(cluster.raft(1).handle(first).ok());
  REQUIRE(cluster.raft(1).handle(second).ok());
  REQUIRE(cluster.raft(1).handle(first).ok());  // late duplicate
  CHECK(cluster.node(1).log.last_index() == Offset(2));
}

TEST_CASE("raft.RejectionHintSkipsAWholeTerm", "[raft][replication]") {
  TestCluster cluster(3);
  // Follower: [0]t1 [1..2]t3 [3..5]t3. The leader's entry ending at 5 has term 2.
  cluster.restart_with_log(1, {{1, 1}, {3, 2}, {3, 3}}, Term(3));
  AppendRequest request{Term(4), NodeId(2), Offset(5), Term(2), Offset(-1), {}};
  REQUIRE(cluster.raft(1).handle(request).ok());
  auto responses = sent<AppendResponse>(cluster, 1);
  REQUIRE(responses.size() == 1);
  CHECK_FALSE(responses[0].success);
  CHECK(responses[0].hint_index == Offset(0));  // skipped every term-3 entry at once
  CHECK(responses[0].hint_term == Term(1));
}

TEST_CASE("raft.LeaderBacksOffToTheFollowersLastEntry", "[raft][replication]") {
  TestCluster cluster(3);
  cluster.restart_with_log(1, {{1, 1}, {1, 1}, {2, 2}, {2, 2}}, Term(2));
  cluster.restart_with_log(2, {{1, 1}}, Term(2));
  cluster.restart_with_log(3, {{1, 1}, {1, 1}, {2, 2}, {2, 2}}, Term(2));
  cluster.campaign(1);
  REQUIRE(cluster.raft(1).role() == Role::leader);
  cluster.deliver();
  CHECK(cluster.node(2).log.last_index() == cluster.node(1).log.last_index());
  CHECK(cluster.raft(1).progress(NodeId(2))->match_index == cluster.node(1).log.last_index());
}

// §5.4.2 (Figure 8): an entry of an earlier term is not committed by
// counting replicas, only together with an entry of the leader's term.
TEST_CASE("raft.OnlyCurrentTermEntriesCommitByCounting", "[raft][commit]") {
  TestCluster cluster(3);
  cluster.restart_with_log(1, {{1, 1}, {2, 1}}, Term(3));  // [0]t1 [1]t2 (uncommitted)
  cluster.restart_with_log(2, {{1, 1}}, Term(3));
  cluster.restart_with_log(3, {{1, 1}}, Term(3));
  cluster.campaign(1, [](int, int, const Message& m) { return is_append(m); });
  REQUIRE(cluster.raft(1).role() == Role::leader);
  Term term = cluster.raft(1).term();
  REQUIRE(cluster.node(1).log.last_index() == Offset(2));  // the leader's no-op
  auto ack = [&](int64_t match) {
    AppendResponse r{term, NodeId(2), true, Offset(match), Offset(match), Offset(-1), Offset(-1), Term(0), false};
    REQUIRE(cluster.raft(1).handle(r).ok());
  };
  ack(1);  // index 1 (term 2) is now on a majority, durable
  CHECK(cluster.raft(1).commit_index() == Offset(-1));
  ack(2);  // the no-op of the current term: commits 1 and 2 at once
  CHECK(cluster.raft(1).commit_index() == Offset(2));
  CHECK(cluster.node(1).applied.size() == 3);
}

TEST_CASE("raft.FollowerAcknowledgesOnlyDurableEntries", "[raft][durability]") {
  TestCluster cluster(3);
  cluster.node(1).auto_flush = false;
  AppendRequest request{Term(1), NodeId(2), Offset(-1), Term(0), Offset(-1),
                        {Entry{Term(1), Offset(0), Offset(2), EntryType::data, "a"}}};
  REQUIRE(cluster.raft(1).handle(request).ok());
  // The leader has not heard from it yet: answered at once, appended but
  // not durable.
  auto first = sent<AppendResponse>(cluster, 1);
  REQUIRE(first.size() == 1);
  CHECK(first[0].success);
  CHECK(first[0].match_index == Offset(-1));
  CHECK(first[0].appended_index == Offset(2));
  // Within a heartbeat interval of that answer, an append is answered once
  // its entries are durable, not before.
  AppendRequest next{Term(1), NodeId(2), Offset(2), Term(1), Offset(-1),
                     {Entry{Term(1), Offset(3), Offset(5), EntryType::data, "b"}}};
  REQUIRE(cluster.raft(1).handle(next).ok());
  CHECK(sent<AppendResponse>(cluster, 1).empty());
  // A heartbeat is answered at once, whatever the flush.
  AppendRequest heartbeat{Term(1), NodeId(2), Offset(5), Term(1), Offset(-1), {}};
  REQUIRE(cluster.raft(1).handle(heartbeat).ok());
  auto before = sent<AppendResponse>(cluster, 1);
  REQUIRE(before.size() == 1);
  CHECK(before[0].match_index == Offset(-1));
  CHECK(before[0].appended_index == Offset(5));
  cluster.flush(1);
  auto after = sent<AppendResponse>(cluster, 1);
  REQUIRE(after.size() == 1);
  CHECK(after[0].match_index == Offset(5));
  // Entries already durable are answered at once.
  REQUIRE(cluster.raft(1).handle(next).ok());
  auto repeated = sent<AppendResponse>(cluster, 1);
  REQUIRE(repeated.size() == 1);
  CHECK(repeated[0].match_index == Offset(5));
}

TEST_CASE("raft.LeaderCountsItselfOnlyOnceDurable", "[raft][durability]") {
  TestCluster cluster(3);
  cluster.campaign(1);
  REQUIRE(cluster.raft(1).role() == Role::leader);
  cluster.node(1).auto_flush = false;
  auto index = cluster.raft(1).propose("p");
  REQUIRE(index.ok());
  cluster.deliver([](int, int to, const Message&) { return to == 3; });  // only node 2 answers
  CHECK(cluster.raft(1).commit_index() < *index);  // 2 copies, but the leader's is not durable
  cluster.flush(1);
  CHECK(cluster.raft(1).commit_index() == *index);
}

TEST_CASE("raft.PreVoteKeepsAPartitionedNodeFromRaisingTerms", "[raft][prevote]") {
  bool pre_vote = GENERATE(true, false);
  TestCluster cluster(3, [&](RaftOptions& o) { o.pre_vote = pre_vote; });
  cluster.campaign(1);
  Term term = cluster.raft(1).term();
  cluster.isolate(3);
  cluster.advance_ms(5'000);
  if (!pre_vote) {
    CHECK(cluster.raft(3).term() > term);  // without pre-vote it keeps bumping terms
    return;
  }
  CHECK(cluster.raft(3).term() == term);
  cluster.heal();
  cluster.advance_ms(2'000);
  CHECK(cluster.leader() == 1);
  CHECK(cluster.raft(1).term() == term);
}

TEST_CASE("raft.CheckQuorumStepsDownAnIsolatedLeader", "[raft][check_quorum]") {
  bool check_quorum = GENERATE(true, false);
  TestCluster cluster(3, [&](RaftOptions& o) { o.check_quorum = check_quorum; });
  cluster.campaign(1);
  cluster.isolate(1);
  cluster.advance_ms(1'500);
  CHECK((cluster.raft(1).role() == Role::leader) == !check_quorum);
}

// Followers whose flushes stall (a slow disk, a topic flushed every
// flush.ms) still answer the leader every heartbeat interval, though they
// answer appends only once durable when they answer more often than that.
TEST_CASE("raft.ALeaderKeepsItsQuorumWhileItsFollowersFlushSlowly", "[raft][check_quorum][durability]") {
  TestCluster cluster(3);
  cluster.campaign(1);
  Term term = cluster.raft(1).term();
  cluster.node(2).auto_flush = false;
  cluster.node(3).auto_flush = false;
  for (int step = 0; step < 200; ++step) {  // 2 s without a follower's flush
    REQUIRE(cluster.raft(1).propose("p").ok());
    cluster.advance_ms(10);
  }
  CHECK(cluster.raft(1).role() == Role::leader);
  CHECK(cluster.raft(1).term() == term);
  cluster.node(2).auto_flush = true;
  cluster.node(3).auto_flush = true;
  cluster.advance_ms(300);
  CHECK(cluster.raft(1).commit_index() == cluster.node(1).log.last_index());
}

// Whether a follower can take over (a hand-off, a transfer to the preferred
// leader) is asked at any instant, not only at check-quorum rounds.
TEST_CASE("raft.ALeaderKnowsItsFollowersAreLiveBetweenQuorumChecks", "[raft][check_quorum]") {
  TestCluster cluster(3);
  // Leading from 50 ms on, its quorum checks fall between its heartbeats
  // (multiples of 100 ms).
  cluster.advance_ms(50);
  cluster.campaign(1);
  cluster.advance_ms(100);  // every follower has answered a heartbeat
  for (int step = 0; step < 200; ++step) {  // 2 s: four quorum checks
    cluster.advance_ms(10);
    INFO("after " << (step + 1) * 10 << " ms");
    REQUIRE(cluster.raft(1).role() == Role::leader);
    CHECK(cluster.raft(1).heard_from_recently(NodeId(2)));
    CHECK(cluster.raft(1).heard_from_recently(NodeId(3)));
  }
  cluster.isolate(3);
  cluster.advance_ms(600);
  CHECK(cluster.raft(1).heard_from_recently(NodeId(2)));
  CHECK_FALSE(cluster.raft(1).heard_from_recently(NodeId(3)));
}

TEST_CASE("raft.FollowerInLeaderLeaseIgnoresCandidates", "[raft][check_quorum]") {
  TestCluster cluster(3);
  cluster.campaign(1);
  Term term = cluster.raft(1).term();
  Offset last = cluster.node(2).log.last_index();
  VoteRequest request = vote_request(term.value + 1, 3, last.value, term.value);
  REQUIRE(cluster.raft(2).handle(request).ok());
  CHECK(sent<VoteResponse>(cluster, 2).empty());
  CHECK(cluster.raft(2).term() == term);
  request.transfer = true;  // the leader asked for this election
  REQUIRE(cluster.raft(2).handle(request).ok());
  auto responses = sent<VoteResponse>(cluster, 2);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].granted);
}

TEST_CASE("raft.LeadershipTransfersToACaughtUpVoter", "[raft][transfer]") {
  TestCluster cluster(3);
  cluster.campaign(1);
  Term term = cluster.raft(1).term();
  REQUIRE(cluster.raft(1).propose("before").ok());
  cluster.node(2).auto_flush = false;  // target behind: the transfer waits for it
  cluster.deliver();
  REQUIRE(cluster.raft(1).transfer_leadership(NodeId(2)).ok());
  CHECK(cluster.raft(1).propose("during").status().code() == ErrorCode::not_leader);
  cluster.deliver();
  CHECK(cluster.raft(1).role() == Role::leader);  // no TimeoutNow before 2 catches up
  cluster.node(2).auto_flush = true;
  cluster.flush(2);
  cluster.deliver();
  CHECK(cluster.leader() == 2);
  CHECK(cluster.raft(2).term() == term + 1);
  CHECK(cluster.raft(1).role() == Role::follower);
}

TEST_CASE("raft.TransferToAnUnknownNodeIsRefused", "[raft][transfer]") {
  TestCluster cluster(3);
  cluster.campaign(1);
  CHECK(cluster.raft(1).transfer_leadership(NodeId(9)).code() == ErrorCode::invalid_request);
  CHECK(cluster.raft(2).transfer_leadership(NodeId(3)).code() == ErrorCode::not_leader);
}

TEST_CASE("raft.FollowerBehindTheLeadersFirstIndexJumpsForward", "[raft][replication]") {
  TestCluster cluster(3);
  cluster.campaign(1);
  cluster.isolate(3);
  for (int i = 0; i < 10; ++i) REQUIRE(cluster.raft(1).propose("p", 3).ok());
  cluster.deliver();
  Offset commit = cluster.raft(1).commit_index();
  REQUIRE(commit == cluster.node(1).log.last_index());
  cluster.node(1).log.trim_prefix(commit - 5);  // retention on the leader
  cluster.heal();
  cluster.advance_ms(200);
  CHECK(cluster.node(3).log.first_index() == cluster.node(1).log.first_index());
  CHECK(cluster.node(3).log.last_index() == cluster.node(1).log.last_index());
  CHECK(cluster.raft(3).commit_index() == commit);
}

TEST_CASE("raft.LeaderRefusesProposalsBeyondTheUncommittedBound", "[raft][replication]") {
  TestCluster cluster(3, [](RaftOptions& o) { o.max_uncommitted_indices = 4; });
  cluster.campaign(1);
  cluster.isolate(1);
  REQUIRE(cluster.raft(1).propose("a", 5).ok());
  CHECK(cluster.raft(1).propose("b").status().code() == ErrorCode::resource_exhausted);
}

}  // namespace
}  // namespace cairn::raft

namespace cairn::raft {
namespace {

TEST_CASE("raft.ANodeStartsWithWhatItKnowsCommittedAndDoesNotApplyItAgain", "[raft][durability]") {
  auto known = GENERATE(as<int64_t>{}, 3, 100, -5);
  CAPTURE(known);
  TestCluster cluster(3, [known](RaftOptions& options) { options.known_committed = Offset(known); });
  cluster.restart_with_log(1, {{1, 2}, {1, 2}, {1, 2}}, Term(1));  // entries [0,1] [2,3] [4,5]
  // Clamped to the log: what it holds of what was committed.
  const int64_t start = std::clamp<int64_t>(known, -1, 5);
  CHECK(cluster.raft(1).commit_index() == Offset(start));
  CHECK(cluster.raft(1).applied_index() == Offset(start));
  CHECK(cluster.node(1).applied.empty());
  // Led by it, only the entries after that are applied (its own no-op last).
  cluster.campaign(1);
  REQUIRE(cluster.raft(1).role() == Role::leader);
  cluster.deliver();
  auto& applied = cluster.node(1).applied;
  REQUIRE_FALSE(applied.empty());
  CHECK(applied.front().first == Offset(start + 1));
  CHECK(applied.back().term == cluster.raft(1).term());
}

// A broker ticks a group only from next_tick_ms() on (ReplicaManager); the
// simulator checks on every run that earlier ticks change nothing.
TEST_CASE("raft.TicksHaveWorkOnlyFromNextTickAndLeadersHeartbeatTogether", "[raft][timers]") {
  TestCluster cluster(3);
  auto leader = cluster.wait_for_leader();
  REQUIRE(leader.has_value());
  int follower = *leader == 1 ? 2 : 1;
  cluster.deliver();
  constexpr int64_t kInterval = 100;  // RaftOptions' default heartbeat interval

  // The leader's next tick is its heartbeat, on the clock's next multiple of the interval.
  Consensus& lead = cluster.raft(*leader);
  ManualClock& clock = cluster.node(*leader).clock;
  int64_t due = lead.next_tick_ms();
  CHECK(due % kInterval == 0);
  CHECK(due > clock.now_ms());
  CHECK(due <= clock.now_ms() + kInterval);
  clock.set_ms(due - 1);
  REQUIRE(lead.tick().ok());
  CHECK(cluster.take_outbox(*leader).empty());
  clock.set_ms(due);
  REQUIRE(lead.tick().ok());
  CHECK(sent<AppendRequest>(cluster, *leader).size() == 2);  // a heartbeat to each follower
  CHECK(lead.next_tick_ms() == due + kInterval);

  // A follower's is its election deadline, which a heartbeat moves on.
  Consensus& follow = cluster.raft(follower);
  ManualClock& follower_clock = cluster.node(follower).clock;
  int64_t deadline = follow.next_tick_ms();
  CHECK(deadline > follower_clock.now_ms());
  follower_clock.set_ms(deadline - 1);
  REQUIRE(follow.tick().ok());
  CHECK(follow.role() == Role::follower);
  follower_clock.set_ms(deadline);
  REQUIRE(follow.tick().ok());
  CHECK(follow.role() == Role::pre_candidate);
}

}  // namespace
}  // namespace cairn::raft
