#include "broker/raft/types.h"

namespace cairn::raft {

std::string_view role_name(Role role) {
  switch (role) {
    case Role::follower: return "follower";
    case Role::pre_candidate: return "pre_candidate";
    case Role::candidate: return "candidate";
    case Role::leader: return "leader";
  }
  return "?";
}

std::string_view entry_type_name(EntryType type) {
  switch (type) {
    case EntryType::data: return "data";
    case EntryType::membership: return "membership";
    case EntryType::noop: return "noop";
  }
  return "?";
}

}  // namespace cairn::raft
