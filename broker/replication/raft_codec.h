#pragma once

#include "broker/raft/messages.h"
#include "cairn/v1/raft.pb.h"
#include "proto/status.h"

namespace cairn::broker {

// One Raft message to and from its wire form (cairn/v1/raft.proto).

// Fills `out`'s body; the caller sets its group.
void to_proto(const raft::Message& message, v1::RaftEnvelope* out);

// The message `in` carries, moving entry payloads out of it. A message a
// correct peer never sends is refused with invalid_request and a reason,
// before consensus or the log can see it: no body, ids or terms below zero,
// entries that are not contiguous from prev_index + 1, whose terms
// decrease or pass the request's, or a membership that does not decode.
Result<raft::Message> from_proto(v1::RaftEnvelope* in);

}  // namespace cairn::broker
