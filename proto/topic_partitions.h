#pragma once

#include <set>

#include "cairn/v1/groups.pb.h"
#include "proto/topic_partition.h"

namespace cairn {

// Sets of partitions to and from their wire form (one TopicPartitions per
// topic), as heartbeats, assignments and offset fetches carry them.
std::set<TopicPartition> from_proto(
    const google::protobuf::RepeatedPtrField<v1::TopicPartitions>& in);
void to_proto(const std::set<TopicPartition>& in,
              google::protobuf::RepeatedPtrField<v1::TopicPartitions>* out);

}  // namespace cairn
