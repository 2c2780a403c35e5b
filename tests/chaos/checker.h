#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "history.h"

namespace cairn::chaos {

// What each broker's replica of each partition holds at the end of a run,
// below its high watermark: broker -> partition -> offset -> value.
using ReplicaContents = std::map<int32_t, std::map<int32_t, std::map<int64_t, std::string>>>;

// The checker's findings over a run's history and final logs (as Jepsen's
// Kafka checker): the first six, replicas_behind and the queue's three
// findings must be zero.
struct Verdict {
  size_t lost = 0;               // acknowledged, but not at its offset in the log
  size_t inconsistent = 0;       // offsets where two replicas hold different records
  size_t never_sent = 0;         // records in the log or read that no producer sent
  size_t misread = 0;            // reads of a record its offset no longer holds (dirty reads)
  size_t reads_out_of_order = 0; // a consumer's offsets of a partition not increasing
  size_t commits_backwards = 0;  // a group's committed offset moved back
  size_t duplicates = 0;         // records at more than one offset
  size_t replicas_behind = 0;    // replicas without the last acknowledged record once healed
  // The queue (a share group over the topic):
  size_t delivered_after_accept = 0;  // handed out again after its acceptance was durable
  size_t never_delivered = 0;         // acknowledged, never handed to the queue's worker
  size_t queue_unfinished = 0;        // partitions the share group had not finished once healed
  size_t deliveries = 0;
  size_t redeliveries = 0;            // deliveries after the first of a record
  size_t accepted = 0;                // acceptances the worker was told are durable
  size_t sent = 0;
  size_t acknowledged = 0;
  size_t unknown = 0;            // sends that failed: may or may not be in the log
  size_t unknown_written = 0;    // ...and are
  size_t reads = 0;
  size_t records = 0;            // in the final log
  std::vector<std::string> examples;  // the first few problems, for the report

  bool ok() const {
    return lost + inconsistent + never_sent + misread + reads_out_of_order + commits_backwards +
               replicas_behind + delivered_after_accept + never_delivered + queue_unfinished ==
           0;
  }
  std::string summary() const;
};

Verdict check(const History& history, const ReplicaContents& replicas);

}  // namespace cairn::chaos
