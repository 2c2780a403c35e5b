#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "broker/raft/types.h"

namespace cairn::raft {

// The settings of one group on one node. None can change while the group
// runs: restart the group (Consensus object) to change them.
struct RaftOptions {
  // This node. Required.
  NodeId self;
  // The voters a brand-new group starts with, used only when durable state
  // holds no membership yet (the group's first start). Every founding node
  // must be given the same list; a node joining later gets an empty list
  // and learns the membership from the leader's log.
  std::vector<NodeId> initial_voters;
  // Election timeout, drawn uniformly from [min, max) at every reset.
  // Default 500..1000 ms. Also the leader lease: a node that heard from a
  // leader less than election_timeout_min_ms ago ignores vote requests.
  int64_t election_timeout_min_ms = 500;
  int64_t election_timeout_max_ms = 1000;
  // How often a leader sends heartbeats (and retries probes), on the
  // clock's multiples of it, so that a node's groups heartbeat together.
  // Default 100 ms: five per election_timeout_min_ms, which check-quorum
  // needs one of (Redpanda: 150 ms).
  int64_t heartbeat_interval_ms = 100;
  // The period at which the owner is expected to call tick(); timers are as
  // precise as this. Default 10 ms. Informational: consensus reads the clock.
  int64_t tick_interval_ms = 10;
  // Batching: an AppendRequest carries at most this many entries and stops
  // before the entry that would pass max_bytes_per_append (always >= 1
  // entry). Defaults 64 entries, 1 MiB.
  int32_t max_entries_per_append = 64;
  int64_t max_bytes_per_append = 1 << 20;
  // Pipelining: AppendRequests in flight per follower before waiting for
  // acknowledgements. Default 8.
  int32_t max_inflight_appends = 8;
  // Entries handed to the apply callback per call into consensus; the rest
  // follow on the next tick or message. Default 1024.
  int32_t max_apply_entries_per_call = 1024;
  // Backpressure: propose() fails with resource_exhausted while the leader
  // holds more than this many uncommitted indices. Default 100,000.
  int64_t max_uncommitted_indices = 100'000;
  // A brand-new group's intended first leader: with this set, a founding
  // voter campaigns at its first tick instead of after an election timeout,
  // if it never saw a term and its log is empty (the group's first start),
  // and again every heartbeat interval while that holds, for up to two
  // election timeouts (peers that have not created the group yet drop its
  // requests), so it normally wins the group's first election. Kafka and Redpanda give
  // a new partition's leadership to its preferred replica; without this a
  // random founder wins and hands it over seconds later, a failover for
  // every producer that started meanwhile. Default off.
  bool campaign_first = false;
  // Pre-vote (§9.6): a node that cannot win does not bump terms. Default on.
  bool pre_vote = true;
  // Check-quorum: a leader that has not heard from a majority within
  // election_timeout_min_ms steps down, and followers honour the leader
  // lease. Default on.
  bool check_quorum = true;
  // How many entries the fast back-off walks per rejected AppendEntries.
  int32_t max_backoff_steps = 256;
  // Seeds the election-timeout jitter. Give each node a different seed.
  uint64_t random_seed = 1;
  // An index the owner knows was committed (a checkpoint it kept, as
  // Kafka's high-watermark checkpoint), the last of an entry. Consensus
  // starts with commit and apply there, clamped to the log, instead of
  // below the log's first entry: a restart then does not read the whole log
  // again to apply it, and a new leader is ready once its own entry is
  // applied, not after every old one. Only for owners whose apply does not
  // need each entry (a replica's, which only moves its high watermark).
  std::optional<Offset> known_committed;
};

}  // namespace cairn::raft
