#include "broker/raft_state_file.h"

#include <fmt/format.h>

#include <charconv>
#include <sstream>

#include "storage/durable_file.h"

namespace cairn::broker {

namespace {

constexpr size_t kMaxFileBytes = 1 << 20;

std::string encode(const raft::HardState& state, const std::vector<raft::MembershipAt>& memberships) {
  std::string out = fmt::format("term={} voted_for={}", state.term.value,
                                state.voted_for ? std::to_string(state.voted_for->value) : "-");
  if (state.lost_end) out += fmt::format(" lost_end={}", state.lost_end->value);
  out += '\n';
  for (const auto& m : memberships) {
    out += fmt::format("membership index={} {}\n", m.index.value, m.membership.encode());
  }
  return out;
}

// A decimal of at least `min`: terms and ids are never negative; a
// membership's index is -1 for the one a group was founded with.
std::optional<int64_t> parse_int(std::string_view text, int64_t min = 0) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min) return std::nullopt;
  return value;
}

// Parses `text` into `state` and `memberships`; false if it is not one.
bool decode(std::string_view text, raft::HardState& state,
            std::vector<raft::MembershipAt>& memberships) {
  std::istringstream lines{std::string(text)};
  std::string line;
  if (!std::getline(lines, line) || !line.starts_with("term=")) return false;
  size_t vote_at = line.find(" voted_for=");
  if (vote_at == std::string::npos) return false;
  auto term = parse_int(std::string_view(line).substr(5, vote_at - 5));
  std::string_view vote = std::string_view(line).substr(vote_at + 11);
  if (!term) return false;
  constexpr std::string_view kLostEnd = " lost_end=";
  if (size_t lost_at = vote.find(kLostEnd); lost_at != std::string_view::npos) {
    auto lost_end = parse_int(vote.substr(lost_at + kLostEnd.size()));
    if (!lost_end) return false;
    state.lost_end = Offset(*lost_end);
    vote = vote.substr(0, lost_at);
  }
  state.term = Term(*term);
  if (vote != "-") {
    auto voted = parse_int(vote);
    if (!voted) return false;
    state.voted_for = raft::NodeId(*voted);
  }
  constexpr std::string_view kPrefix = "membership index=";
  while (std::getline(lines, line)) {
    if (!line.starts_with(kPrefix)) return false;
    size_t space = line.find(' ', kPrefix.size());
    if (space == std::string::npos) return false;
    auto index =
        parse_int(std::string_view(line).substr(kPrefix.size(), space - kPrefix.size()), -1);
    std::string_view encoded = std::string_view(line).substr(space + 1);
    // A replica that joined a group knows no members until its leader's
    // log says: it saves that empty start (never a log entry's) with them.
    auto membership = encoded == raft::Membership{}.encode() ? std::optional<raft::Membership>(raft::Membership{})
                                                             : raft::Membership::decode(encoded);
    if (!index || !membership) return false;
    memberships.push_back({Offset(*index), std::move(*membership)});
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<RaftStateFile>> RaftStateFile::open(storage::Env& env, std::string path) {
  CAIRN_RETURN_IF_ERROR(env.create_dirs(path.substr(0, path.rfind('/'))));
  std::unique_ptr<RaftStateFile> state(new RaftStateFile(env, std::move(path)));
  auto text = storage::read_small_file(env, state->path_, kMaxFileBytes);
  if (!text.ok()) return text.status();
  if (*text && !decode(**text, state->hard_state_, state->memberships_)) {
    return error(ErrorCode::storage_corrupt,
                 "{} is not a Raft state file (want 'term=N voted_for=ID|- [lost_end=N]' then "
                 "'membership index=N v=...;l=...' lines); it holds this replica's vote, so it "
                 "is never reset silently",
                 state->path_);
  }
  return state;
}

Status RaftStateFile::save_hard_state(const raft::HardState& state) {
  return save(state, memberships_);
}

Status RaftStateFile::save_memberships(const std::vector<raft::MembershipAt>& memberships) {
  return save(hard_state_, memberships);
}

Status RaftStateFile::save(const raft::HardState& state,
                           const std::vector<raft::MembershipAt>& memberships) {
  // Memory follows only a durable save: what consensus reads back is what
  // a restart would find.
  CAIRN_RETURN_IF_ERROR(storage::replace_file_durably(env_, path_, encode(state, memberships)));
  hard_state_ = state;
  memberships_ = memberships;
  return {};
}

}  // namespace cairn::broker
