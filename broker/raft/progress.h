#pragma once

#include <cstdint>
#include <deque>

#include "broker/raft/types.h"

namespace cairn::raft {

// What a leader knows about one follower's log, and its flow control.
//
// probe: the leader does not know where the logs agree; it sends one
//   AppendRequest per heartbeat interval (or per answer) and moves
//   next_index back on each rejection.
// replicate: the logs agree up to match_index; the leader streams entries
//   optimistically, up to max_inflight_appends requests in flight, each
//   remembered by its last index until an answer covers it.
//
// Invariants: match_index < next_index; inflight holds increasing indices
// above match_index and below next_index, at most
// RaftOptions::max_inflight_appends of them.
struct Progress {
  enum class Mode : uint8_t { probe, replicate };

  Offset match_index{-1};     // durable on the follower and matching ours
  Offset appended_index{-1};  // matching ours, maybe not yet durable
  Offset next_index{0};
  Mode mode = Mode::probe;
  bool probe_sent = false;        // probe: a request is out, wait for its answer
  std::deque<Offset> inflight;    // replicate: last index of each request in flight
  bool recently_active = false;   // heard from since the last check-quorum round
  int64_t last_heard_ms = -1;     // when it last answered an append (never: -1)
  bool progressed = false;        // acknowledged something since the last heartbeat
  // A learner's catch-up round (Consensus::promote_learner): it ends once
  // match_index reaches round_end; -1: no round started.
  Offset round_end{-1};
  int64_t round_started_ms = -1;

  void become_probe() {
    mode = Mode::probe;
    probe_sent = false;
    inflight.clear();
  }
  void become_replicate() {
    mode = Mode::replicate;
    probe_sent = false;
    inflight.clear();
  }
  // Forgets requests whose entries end at or before `index`.
  void acknowledge(Offset index) {
    while (!inflight.empty() && inflight.front() <= index) inflight.pop_front();
  }
};

}  // namespace cairn::raft
