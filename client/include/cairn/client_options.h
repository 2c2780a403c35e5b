#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cairn/status.h"

namespace cairn {

// How a client finds and talks to the cluster. Shared by Producer, Consumer
// and Admin.
struct ClientOptions {
  // host:port of one or more brokers; any one is enough to discover the rest.
  std::vector<std::string> bootstrap_brokers = {"127.0.0.1:7070"};
  // Deadline of each request, in ms. Default 30000.
  int32_t request_timeout_ms = 30'000;
  // Largest message sent or received, in bytes; at least 1024. Produce
  // requests are also kept within the smallest --max-request-bytes the
  // brokers advertise, and a record that cannot fit fails with
  // record_too_large. Default 64 MiB.
  int32_t max_message_bytes = 64 << 20;
  // Pause before retrying a request that failed for a reason that may pass
  // (a broker down or restarting, not the leader, a timeout), in ms: doubled
  // at each retry up to retry_backoff_max_ms, then scaled by a random factor
  // in [0.8, 1.2] so that clients that failed together do not retry together.
  // The same bounds pace gRPC's reconnection attempts. Defaults 100 and 1000.
  int32_t retry_backoff_ms = 100;
  int32_t retry_backoff_max_ms = 1'000;
};

// Parses "host:port[,host:port...]" as a bootstrap list; an empty list or
// item, or an address without a host or a port in 1..65535, is an error
// that names it.
Result<std::vector<std::string>> parse_broker_list(const std::string& list);

}  // namespace cairn
