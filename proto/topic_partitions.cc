#include "proto/topic_partitions.h"

namespace cairn {

std::set<TopicPartition> from_proto(
    const google::protobuf::RepeatedPtrField<v1::TopicPartitions>& in) {
  std::set<TopicPartition> out;
  for (const auto& t : in) {
    for (int32_t p : t.partitions()) out.insert({t.topic(), p});
  }
  return out;
}

void to_proto(const std::set<TopicPartition>& in,
              google::protobuf::RepeatedPtrField<v1::TopicPartitions>* out) {
  v1::TopicPartitions* current = nullptr;
  for (const auto& tp : in) {  // sorted by topic: one entry per topic
    if (!current || current->topic() != tp.topic) {
      current = out->Add();
      current->set_topic(tp.topic);
    }
    current->add_partitions(tp.partition);
  }
}

}  // namespace cairn
