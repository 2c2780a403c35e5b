#include "broker/raft/messages.h"

#include <fmt/format.h>

namespace cairn::raft {

Term message_term(const Message& message) {
  return std::visit([](const auto& m) { return m.term; }, message);
}

NodeId message_from(const Message& message) {
  return std::visit([](const auto& m) { return m.from; }, message);
}

namespace {

std::string describe_entries(const std::vector<Entry>& entries) {
  if (entries.empty()) return "heartbeat";
  return fmt::format("{} entries [{}..{}] terms {}..{}", entries.size(), entries.front().first,
                     entries.back().last, entries.front().term, entries.back().term);
}

struct Describer {
  std::string operator()(const VoteRequest& m) const {
    return fmt::format("{}VoteRequest t{} from {} last {}@t{}{}", m.pre_vote ? "Pre" : "",
                       m.term, m.from, m.last_index, m.last_term, m.transfer ? " transfer" : "");
  }
  std::string operator()(const VoteResponse& m) const {
    return fmt::format("{}VoteResponse t{} from {} {}", m.pre_vote ? "Pre" : "", m.term, m.from,
                       m.granted ? "granted" : "rejected");
  }
  std::string operator()(const AppendRequest& m) const {
    return fmt::format("AppendRequest t{} from {} prev {}@t{} commit {} {}", m.term, m.from,
                       m.prev_index, m.prev_term, m.commit_index, describe_entries(m.entries));
  }
  std::string operator()(const AppendResponse& m) const {
    if (m.success) {
      return fmt::format("AppendResponse t{} from {} ok match {} appended {}", m.term, m.from,
                         m.match_index, m.appended_index);
    }
    return fmt::format("AppendResponse t{} from {} reject prev {} hint {}@t{}{}", m.term, m.from,
                       m.rejected_prev, m.hint_index, m.hint_term, m.repairing ? " (repairing)" : "");
  }
  std::string operator()(const JumpRequest& m) const {
    return fmt::format("JumpRequest t{} from {} base {}@t{} commit {} membership {} at {}", m.term,
                       m.from, m.base_index, m.base_term, m.commit_index, m.membership.membership,
                       m.membership.index);
  }
  std::string operator()(const TimeoutNow& m) const {
    return fmt::format("TimeoutNow t{} from {}", m.term, m.from);
  }
};

}  // namespace

std::string describe(const Message& message) { return std::visit(Describer{}, message); }

}  // namespace cairn::raft
