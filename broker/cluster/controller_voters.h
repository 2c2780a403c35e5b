#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "broker/replication/replica_manager.h"
#include "proto/status.h"

namespace cairn::broker {

// The brokers of a cluster as --controller-voters names them
// (`1@host:port,2@host:port,3@host:port`, like Kafka's
// controller.quorum.voters): each voter's id and the address the others
// reach it at. Every broker is a voter of the controller quorum.
struct ControllerVoters {
  std::vector<PeerBroker> brokers;  // by id, ascending

  // The list in one canonical spelling: equal for equal lists, whatever
  // order or host spelling they were given in. Brokers compare it to find
  // a peer started with another list (RaftFrame.cluster_id).
  std::string canonical() const;
  const PeerBroker* find(int32_t id) const;
  std::vector<int32_t> ids() const;
};

// Parses --controller-voters. Refuses an empty list, an entry that is not
// ID@HOST:PORT, a negative id, port 0, and an id or address named twice.
Result<ControllerVoters> parse_controller_voters(const std::string& text);

// Checks that broker `node_id`, serving on `listen`, is one of `voters`,
// at the address they give it (or on a wildcard host, 0.0.0.0 or [::],
// with its port): a broker the others cannot reach where they look for it
// would never be heard.
Status check_member_of(const ControllerVoters& voters, int32_t node_id, const std::string& listen);

}  // namespace cairn::broker
