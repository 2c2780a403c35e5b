#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "proto/status.h"
#include "storage/env.h"

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
  // In a cluster, per partition (or empty for none): the replicas it is
  // moving to, preferred leader first; empty while it is not moving.
  std::vector<std::vector<int32_t>> targets;
  // In a cluster, per partition while it moves: the move's id (the
  // metadata offset of its start).
  std::vector<int64_t> move_ids;
};

// What a broker keeps of its topics across restarts, in one file
// (protobuf TopicRegistryState): a broker alone its topic list; a broker
// of a cluster its image of the cluster metadata, with the offset of the
// metadata log it applied up to, so that a restart resumes from there
// instead of replaying changes (a deletion) over what replaced them.
struct TopicRegistry {
  std::vector<TopicSpec> topics;
  int64_t metadata_applied = 0;
  std::set<int32_t> decommissioned_brokers;  // that new replicas avoid
};

// As bytes (a protobuf TopicRegistryState): the file's contents, and the
// cluster metadata image one broker sends another.
std::string encode_topics(const TopicRegistry& registry);
Result<TopicRegistry> decode_topics(const std::string& bytes);

// Replaced atomically: written to a temporary file, synced, renamed over
// the old one, folder synced. A missing file is an empty registry.
Result<TopicRegistry> load_topics(const std::string& path);
Status save_topics(storage::Env& env, const std::string& path, const TopicRegistry& registry);

}  // namespace cairn::broker
