// The wire form of Raft messages: every message survives the trip, and a
// message no correct peer sends is refused before consensus sees it.

#include <catch2/catch.hpp>

#include "broker/replication/raft_codec.h"

using namespace cairn;
using namespace cairn::broker;

namespace {

raft::Message round_trip(const raft::Message& message) {
  v1::RaftEnvelope envelope;
  to_proto(message, &envelope);
  v1::RaftEnvelope parsed;
  REQUIRE(parsed.ParseFromString(envelope.SerializeAsString()));
  auto decoded = from_proto(&parsed);
  INFO(decoded.status().to_string());
  REQUIRE(decoded.ok());
  return *decoded;
}

raft::AppendRequest append_with_entries() {
  raft::Membership members{{raft::NodeId(1), raft::NodeId(2), raft::NodeId(3)}, {raft::NodeId(4)}};
  return raft::AppendRequest{
      Term(7), raft::NodeId(2), Offset(9), Term(5), Offset(8),
      {raft::Entry{Term(5), Offset(10), Offset(14), raft::EntryType::data, std::string("batch\0bytes", 11)},
       raft::Entry{Term(7), Offset(15), Offset(15), raft::EntryType::noop, ""},
       raft::Entry{Term(7), Offset(16), Offset(16), raft::EntryType::membership, members.encode()}}};
}

Status decode_error(const v1::RaftEnvelope& envelope) {
  v1::RaftEnvelope copy = envelope;
  return from_proto(&copy).status();
}

}  // namespace

TEST_CASE("RaftCodec.EveryMessageSurvivesTheTrip", "[raft-codec]") {
  std::vector<raft::Message> messages{
      raft::VoteRequest{Term(3), raft::NodeId(1), Offset(-1), Term(0), true, false},
      raft::VoteRequest{Term(4), raft::NodeId(2), Offset(99), Term(3), false, true},
      raft::VoteResponse{Term(4), raft::NodeId(3), false, true},
      append_with_entries(),
      raft::AppendRequest{Term(2), raft::NodeId(1), Offset(-1), Term(0), Offset(-1), {}},
      raft::AppendResponse{Term(7), raft::NodeId(3), false, Offset(4), Offset(9), Offset(12),
                           Offset(8), Term(5), false},
      raft::AppendResponse{Term(7), raft::NodeId(3), false, Offset(-1), Offset(-1), Offset(12),
                           Offset(3), Term(2), true},
      raft::JumpRequest{Term(9), raft::NodeId(1), Offset(1000), Term(8), Offset(1200),
                        raft::MembershipAt{Offset(3), raft::Membership{{raft::NodeId(1), raft::NodeId(2)}, {}}}},
      raft::TimeoutNow{Term(9), raft::NodeId(2)}};
  for (const auto& message : messages) {
    INFO(raft::describe(message));
    CHECK(round_trip(message) == message);
  }
}

TEST_CASE("RaftCodec.MalformedMessagesAreRefused", "[raft-codec]") {
  v1::RaftEnvelope good;
  to_proto(append_with_entries(), &good);
  REQUIRE(decode_error(good).ok());

  auto refused = [&](const std::function<void(v1::RaftAppendRequest&)>& damage) {
    v1::RaftEnvelope bad = good;
    damage(*bad.mutable_append_request());
    return decode_error(bad).code() == ErrorCode::invalid_request;
  };
  CHECK(refused([](auto& p) { p.mutable_entries(1)->set_first(16); }));  // a gap
  CHECK(refused([](auto& p) { p.mutable_entries(0)->set_last(9); }));    // last < first
  CHECK(refused([](auto& p) { p.mutable_entries(1)->set_term(4); }));    // terms decrease
  CHECK(refused([](auto& p) { p.mutable_entries(2)->set_term(8); }));    // above the request's
  CHECK(refused([](auto& p) { p.set_prev_term(8); }));
  CHECK(refused([](auto& p) { p.set_term(-1); }));
  CHECK(refused([](auto& p) { p.set_prev_index(-2); }));
  CHECK(refused([](auto& p) { p.mutable_entries(2)->set_payload("v="); }));  // no voters
  CHECK(refused([](auto& p) { p.mutable_entries(2)->set_type(static_cast<v1::RaftEntryType>(9)); }));
  CHECK(refused([](auto& p) {
    p.mutable_entries(1)->set_last(16);  // a no-op spanning two indices
    p.mutable_entries(2)->set_first(17);
    p.mutable_entries(2)->set_last(17);
  }));

  CHECK(decode_error(v1::RaftEnvelope()).code() == ErrorCode::invalid_request);
  v1::RaftEnvelope jump;
  to_proto(raft::JumpRequest{Term(9), raft::NodeId(1), Offset(10), Term(8), Offset(12),
                             raft::MembershipAt{Offset(3), raft::Membership{{raft::NodeId(1)}, {}}}},
           &jump);
  REQUIRE(decode_error(jump).ok());
  jump.mutable_jump_request()->set_membership("nonsense");
  CHECK(decode_error(jump).code() == ErrorCode::invalid_request);
}
