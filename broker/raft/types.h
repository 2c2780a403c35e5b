#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "proto/strong_int.h"

namespace cairn::raft {

// A broker's identity inside a Raft group. Not an Offset, not a Term.
using NodeId = StrongInt<struct NodeIdTag>;

// What an entry carries. A data entry is one record batch as the partition
// stores it; the consensus layer never looks inside its payload.
enum class EntryType : uint8_t {
  data = 0,        // a record batch from a client
  membership = 1,  // an encoded Membership (membership.h); takes effect once appended
  noop = 2,        // appended by each new leader to commit earlier terms (§5.4.2)
};

// One entry of the replicated log: a record batch that occupies the
// contiguous index (offset) range [first, last]; a batch of n records spans
// n offsets. Invariant: first <= last. Raft's "index" is the offset, so the
// high watermark is the commit index and needs no translation.
struct Entry {
  Term term;
  Offset first;
  Offset last;
  EntryType type = EntryType::data;
  std::string payload;

  int64_t index_count() const { return last - first + 1; }
  bool operator==(const Entry&) const = default;
};

// The role of one node in one group.
enum class Role : uint8_t { follower, pre_candidate, candidate, leader };

std::string_view role_name(Role role);
std::string_view entry_type_name(EntryType type);

}  // namespace cairn::raft
