#include "broker/coordinated_partitions.h"

#include <spdlog/spdlog.h>

namespace cairn::broker {

Status CoordinatedPartitions::coordinate(TopicManager& topics, int32_t number, const std::function<void()>& unload,
                                         const std::function<Result<size_t>(const Partition&)>& load) {
  TopicPartition tp{topic_, number};
  auto partition = topics.partition(tp);
  Term term = partition && partition->replica() ? partition->replica()->ready_term() : Term(-1);
  auto loaded = loaded_.find(number);
  if (loaded != loaded_.end() && loaded->second == term) return {};
  bool was_loaded = loaded_.erase(number) > 0;
  if (term < Term(0)) {
    if (was_loaded) unload();
    if (!topics.topic(topic_)) {
      return error(ErrorCode::not_leader, "{} are not ready yet: the controller is creating {}; retry shortly", what_,
                   topic_);
    }
    return error(ErrorCode::not_leader,
                 "this broker does not coordinate the {} kept in {}: it does not lead that partition (its leader, "
                 "named by metadata, does)",
                 what_, tp);
  }
  unload();  // loaded in an earlier term, if at all
  auto applied = load(*partition);
  if (!applied.ok()) {
    unload();  // whatever it applied before failing
    return applied.status();
  }
  loaded_[number] = term;
  spdlog::info("coordinating the {} of {} from term {} ({} record(s) replayed)", what_, tp, term.value, *applied);
  return {};
}

std::optional<Term> CoordinatedPartitions::term(int32_t number) const {
  auto loaded = loaded_.find(number);
  if (loaded == loaded_.end()) return std::nullopt;
  return loaded->second;
}

}  // namespace cairn::broker
