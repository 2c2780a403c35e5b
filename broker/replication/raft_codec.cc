#include "broker/replication/raft_codec.h"

namespace cairn::broker {

namespace {

v1::RaftEntryType to_proto(raft::EntryType type) {
  switch (type) {
    case raft::EntryType::data: return v1::RAFT_ENTRY_DATA;
    case raft::EntryType::membership: return v1::RAFT_ENTRY_MEMBERSHIP;
    case raft::EntryType::noop: return v1::RAFT_ENTRY_NOOP;
  }
  return v1::RAFT_ENTRY_DATA;
}

std::optional<raft::EntryType> entry_type_of(int type) {
  switch (type) {
    case v1::RAFT_ENTRY_DATA: return raft::EntryType::data;
    case v1::RAFT_ENTRY_MEMBERSHIP: return raft::EntryType::membership;
    case v1::RAFT_ENTRY_NOOP: return raft::EntryType::noop;
    default: return std::nullopt;
  }
}

struct Encoder {
  v1::RaftEnvelope* out;

  void operator()(const raft::VoteRequest& m) {
    auto* p = out->mutable_vote_request();
    p->set_term(m.term.value);
    p->set_from(m.from.value);
    p->set_last_index(m.last_index.value);
    p->set_last_term(m.last_term.value);
    p->set_pre_vote(m.pre_vote);
    p->set_transfer(m.transfer);
  }
  void operator()(const raft::VoteResponse& m) {
    auto* p = out->mutable_vote_response();
    p->set_term(m.term.value);
    p->set_from(m.from.value);
    p->set_pre_vote(m.pre_vote);
    p->set_granted(m.granted);
  }
  void operator()(const raft::AppendRequest& m) {
    auto* p = out->mutable_append_request();
    p->set_term(m.term.value);
    p->set_from(m.from.value);
    p->set_prev_index(m.prev_index.value);
    p->set_prev_term(m.prev_term.value);
    p->set_commit_index(m.commit_index.value);
    p->mutable_entries()->Reserve(static_cast<int>(m.entries.size()));
    for (const raft::Entry& e : m.entries) {
      auto* entry = p->add_entries();
      entry->set_term(e.term.value);
      entry->set_first(e.first.value);
      entry->set_last(e.last.value);
      entry->set_type(to_proto(e.type));
      entry->set_payload(e.payload);
    }
  }
  void operator()(const raft::AppendResponse& m) {
    auto* p = out->mutable_append_response();
    p->set_term(m.term.value);
    p->set_from(m.from.value);
    p->set_success(m.success);
    p->set_match_index(m.match_index.value);
    p->set_appended_index(m.appended_index.value);
    p->set_rejected_prev(m.rejected_prev.value);
    p->set_hint_index(m.hint_index.value);
    p->set_hint_term(m.hint_term.value);
    p->set_repairing(m.repairing);
  }
  void operator()(const raft::JumpRequest& m) {
    auto* p = out->mutable_jump_request();
    p->set_term(m.term.value);
    p->set_from(m.from.value);
    p->set_base_index(m.base_index.value);
    p->set_base_term(m.base_term.value);
    p->set_commit_index(m.commit_index.value);
    p->set_membership_index(m.membership.index.value);
    p->set_membership(m.membership.membership.encode());
  }
  void operator()(const raft::TimeoutNow& m) {
    auto* p = out->mutable_timeout_now();
    p->set_term(m.term.value);
    p->set_from(m.from.value);
  }
};

Status refuse(std::string_view why) {
  return error(ErrorCode::invalid_request, "malformed Raft message: {}", why);
}

// Offsets may be -1 (an empty log's last index); nothing on the wire is lower.
bool valid_index(int64_t index) { return index >= -1; }

Status check_common(int64_t term, int64_t from) {
  if (term < 0) return refuse("negative term");
  if (from < 0) return refuse("negative node id");
  return {};
}

Result<raft::Message> decode_append(v1::RaftAppendRequest* p) {
  CAIRN_RETURN_IF_ERROR(check_common(p->term(), p->from()));
  if (!valid_index(p->prev_index()) || !valid_index(p->commit_index()) || p->prev_term() < 0 ||
      p->prev_term() > p->term()) {
    return refuse("append request with a bad previous entry or commit index");
  }
  raft::AppendRequest m{Term(p->term()), raft::NodeId(p->from()), Offset(p->prev_index()),
                        Term(p->prev_term()), Offset(p->commit_index()), {}};
  m.entries.reserve(static_cast<size_t>(p->entries_size()));
  int64_t next = p->prev_index() + 1;
  int64_t term = p->prev_term();
  for (auto& e : *p->mutable_entries()) {
    auto type = entry_type_of(e.type());
    if (!type) return refuse("unknown entry type");
    if (e.first() != next || e.last() < e.first()) {
      return refuse("entries not contiguous from the previous index");
    }
    if (e.term() < term || e.term() > p->term()) return refuse("entry terms out of order");
    if (*type != raft::EntryType::data && e.first() != e.last()) {
      return refuse("a control entry spans more than one index");
    }
    if (*type == raft::EntryType::membership && !raft::Membership::decode(e.payload())) {
      return refuse("membership entry that does not decode");
    }
    next = e.last() + 1;
    term = e.term();
    m.entries.push_back(raft::Entry{Term(e.term()), Offset(e.first()), Offset(e.last()), *type,
                                    std::move(*e.mutable_payload())});
  }
  return raft::Message(std::move(m));
}

}  // namespace

void to_proto(const raft::Message& message, v1::RaftEnvelope* out) {
  std::visit(Encoder{out}, message);
}

Result<raft::Message> from_proto(v1::RaftEnvelope* in) {
  switch (in->body_case()) {
    case v1::RaftEnvelope::kVoteRequest: {
      const auto& p = in->vote_request();
      CAIRN_RETURN_IF_ERROR(check_common(p.term(), p.from()));
      if (!valid_index(p.last_index()) || p.last_term() < 0) return refuse("bad last entry");
      return raft::Message(raft::VoteRequest{Term(p.term()), raft::NodeId(p.from()),
                                             Offset(p.last_index()), Term(p.last_term()),
                                             p.pre_vote(), p.transfer()});
    }
    case v1::RaftEnvelope::kVoteResponse: {
      const auto& p = in->vote_response();
      CAIRN_RETURN_IF_ERROR(check_common(p.term(), p.from()));
      return raft::Message(
          raft::VoteResponse{Term(p.term()), raft::NodeId(p.from()), p.pre_vote(), p.granted()});
    }
    case v1::RaftEnvelope::kAppendRequest:
      return decode_append(in->mutable_append_request());
    case v1::RaftEnvelope::kAppendResponse: {
      const auto& p = in->append_response();
      CAIRN_RETURN_IF_ERROR(check_common(p.term(), p.from()));
      if (!valid_index(p.match_index()) || !valid_index(p.appended_index()) ||
          !valid_index(p.rejected_prev()) || !valid_index(p.hint_index()) || p.hint_term() < 0) {
        return refuse("append response with an index below -1");
      }
      return raft::Message(raft::AppendResponse{
          Term(p.term()), raft::NodeId(p.from()), p.success(), Offset(p.match_index()),
          Offset(p.appended_index()), Offset(p.rejected_prev()), Offset(p.hint_index()),
          Term(p.hint_term()), p.repairing()});
    }
    case v1::RaftEnvelope::kJumpRequest: {
      const auto& p = in->jump_request();
      CAIRN_RETURN_IF_ERROR(check_common(p.term(), p.from()));
      auto membership = raft::Membership::decode(p.membership());
      if (!membership || membership->voters.empty()) return refuse("jump without a membership");
      if (!valid_index(p.base_index()) || !valid_index(p.commit_index()) ||
          !valid_index(p.membership_index()) || p.base_term() < 0 || p.base_term() > p.term()) {
        return refuse("jump with a bad base");
      }
      return raft::Message(raft::JumpRequest{
          Term(p.term()), raft::NodeId(p.from()), Offset(p.base_index()), Term(p.base_term()),
          Offset(p.commit_index()),
          raft::MembershipAt{Offset(p.membership_index()), std::move(*membership)}});
    }
    case v1::RaftEnvelope::kTimeoutNow: {
      const auto& p = in->timeout_now();
      CAIRN_RETURN_IF_ERROR(check_common(p.term(), p.from()));
      return raft::Message(raft::TimeoutNow{Term(p.term()), raft::NodeId(p.from())});
    }
    case v1::RaftEnvelope::BODY_NOT_SET:
      break;
  }
  return refuse("no message in the envelope");
}

}  // namespace cairn::broker
