#include "broker/topic_registry.h"

#include <fstream>
#include <sstream>

#include "cairn/v1/cluster.pb.h"
#include "storage/durable_file.h"

namespace cairn::broker {

namespace {

std::vector<std::vector<int32_t>> from_proto(
    const google::protobuf::RepeatedPtrField<v1::ReplicaAssignment>& assignments) {
  std::vector<std::vector<int32_t>> out;
  for (const auto& a : assignments) out.emplace_back(a.brokers().begin(), a.brokers().end());
  return out;
}

void to_proto(const std::vector<std::vector<int32_t>>& assignments,
              google::protobuf::RepeatedPtrField<v1::ReplicaAssignment>* out) {
  for (const auto& brokers : assignments) out->Add()->mutable_brokers()->Add(brokers.begin(), brokers.end());
}

}  // namespace

Result<TopicRegistry> decode_topics(const std::string& bytes) {
  v1::TopicRegistryState state;
  if (!state.ParseFromString(bytes) ||
      (state.placements_size() != 0 && state.placements_size() != state.topics_size())) {
    return error(ErrorCode::storage_corrupt, "not a valid topic list");
  }
  TopicRegistry registry;
  registry.metadata_applied = state.metadata_applied();
  registry.decommissioned_brokers.insert(state.decommissioned_brokers().begin(),
                                         state.decommissioned_brokers().end());
  for (int i = 0; i < state.topics_size(); ++i) {
    const auto& t = state.topics(i);
    TopicSpec spec{t.name(), t.partitions(), {t.configs().begin(), t.configs().end()}, {}, 0, {}, {}};
    if (state.placements_size() != 0) {
      const auto& placement = state.placements(i);
      spec.topic_id = placement.topic_id();
      spec.replicas = from_proto(placement.replicas());
      spec.targets = from_proto(placement.targets());
      spec.move_ids.assign(placement.move_ids().begin(), placement.move_ids().end());
    }
    registry.topics.push_back(std::move(spec));
  }
  return registry;
}

std::string encode_topics(const TopicRegistry& registry) {
  v1::TopicRegistryState state;
  bool clustered = false;
  for (const auto& t : registry.topics) clustered |= !t.replicas.empty();
  for (const auto& t : registry.topics) {
    auto* spec = state.add_topics();
    spec->set_name(t.name);
    spec->set_partitions(t.partitions);
    spec->mutable_configs()->insert(t.config_overrides.begin(), t.config_overrides.end());
    if (!clustered) continue;
    auto* placement = state.add_placements();
    placement->set_topic_id(t.topic_id);
    to_proto(t.replicas, placement->mutable_replicas());
    to_proto(t.targets, placement->mutable_targets());
    placement->mutable_move_ids()->Add(t.move_ids.begin(), t.move_ids.end());
  }
  state.set_metadata_applied(registry.metadata_applied);
  state.mutable_decommissioned_brokers()->Add(registry.decommissioned_brokers.begin(),
                                              registry.decommissioned_brokers.end());
  return state.SerializeAsString();
}

Result<TopicRegistry> load_topics(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return TopicRegistry{};
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto registry = decode_topics(buffer.str());
  if (!registry.ok()) return error(ErrorCode::storage_corrupt, "{} is not a valid topic list", path);
  return registry;
}

Status save_topics(storage::Env& env, const std::string& path, const TopicRegistry& registry) {
  return storage::replace_file_durably(env, path, encode_topics(registry));
}

}  // namespace cairn::broker
