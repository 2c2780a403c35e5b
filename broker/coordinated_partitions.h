#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "broker/raft/types.h"
#include "broker/topic_manager.h"

namespace cairn::broker {

// In a cluster, a coordinator of groups whose state lives in an internal
// topic (GroupCoordinator: __consumer_offsets; ShareCoordinator:
// __share_group_state) coordinates the groups of the partitions this broker
// leads, loaded from the partition once per term: another leader may have
// changed them meanwhile. This keeps which partitions are loaded, and in
// which term.
//
// Not thread-safe: the coordinator's mutex guards it.
class CoordinatedPartitions {
 public:
  // `topic` and `what` ("consumer groups") name the state in messages.
  CoordinatedPartitions(std::string topic, std::string what) : topic_(std::move(topic)), what_(std::move(what)) {}

  // Ok once this broker coordinates the groups of partition `number` in its
  // current term: if they were loaded in another term, `unload` drops them,
  // then `load` reads them (returning the records it applied). not_leader
  // (after `unload`, if they were loaded) when this broker does not lead it.
  Status coordinate(TopicManager& topics, int32_t number, const std::function<void()>& unload,
                    const std::function<Result<size_t>(const Partition&)>& load);
  // The term partition `number` was loaded in; none if it is not loaded.
  std::optional<Term> term(int32_t number) const;

 private:
  const std::string topic_;
  const std::string what_;
  std::map<int32_t, Term> loaded_;
};

}  // namespace cairn::broker
