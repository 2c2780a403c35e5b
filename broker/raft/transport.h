#pragma once

#include "broker/raft/messages.h"

namespace cairn::raft {

// Sends one group's messages to its peers. Delivery is best effort: a
// message may be dropped, duplicated, delayed or reordered, and send()
// never reports failure (consensus retries on its own timers). Received
// messages reach the group through Consensus::handle().
//
// send() is called only from the group's owner and must not call back into
// consensus. In production one connection per peer broker carries the
// messages of every group (and may coalesce heartbeats); the simulator's
// network lives in sim/. Implementations bound their queues and drop when
// full: Raft tolerates loss.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual void send(NodeId to, Message message) = 0;
};

}  // namespace cairn::raft
