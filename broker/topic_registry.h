#pragma once

#include <map>
#include <string>
#include <vector>

#include "proto/status.h"

namespace cairn::broker {

// A topic as the broker remembers it across restarts.
struct TopicSpec {
  std::string name;
  int32_t partitions = 1;
  std::map<std::string, std::string> config_overrides;  // only what differs from defaults
  // In a cluster, each partition's replicas (broker ids, preferred leader
  // first), as the controller assigned them; empty on a broker alone.
  std::vector<std::vector<int32_t>> replicas;
  // In a cluster, which incarnation of the name this is: the metadata
  // offset of the topic's creation (Kafka's topic ids play this part).
  int64_t topic_id = 0;
};

// A broker alone keeps its topic list in one file (<data-dir>/.topics, protobuf
// TopicRegistryState). Replaced atomically: written to a temporary file,
// synced, renamed over the old one, folder synced. A missing file is an
// empty list.
Result<std::vector<TopicSpec>> load_topics(const std::string& path);
Status save_topics(const std::string& path, const std::vector<TopicSpec>& topics);

}  // namespace cairn::broker
