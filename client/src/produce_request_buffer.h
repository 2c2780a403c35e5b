#pragma once

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

#include <memory>
#include <string>
#include <vector>

#include "cairn/v1/broker.pb.h"
#include "proto/topic_partition.h"

namespace cairn::client {

// A cairn.v1.ProduceRequest as the bytes gRPC sends, built without copying
// its batches: each batch is a slice of the producer's own bytes, kept
// alive by a reference until gRPC is done with it. Producing at hundreds
// of MB/s, copying each batch into a message and then serialising that
// message took a third of the producer's sending thread. The bytes parse
// as any ProduceRequest (one PartitionProduce per batch, in order).
class ProduceRequestBuffer {
 public:
  ProduceRequestBuffer(v1::Acks acks, int32_t timeout_ms, uint64_t request_id);

  // Adds an entry carrying `batch` (encoded record batches) for `tp`. The
  // bytes must not change while the buffer, or gRPC, holds them.
  void add(const TopicPartition& tp, std::shared_ptr<const std::string> batch);

  grpc::ByteBuffer build() &&;

 private:
  void flush_pending();

  std::vector<grpc::Slice> slices_;
  std::string pending_;  // small wire bytes not yet made a slice
};

}  // namespace cairn::client
