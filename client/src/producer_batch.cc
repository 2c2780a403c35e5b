#include "producer_batch.h"

namespace cairn::client {

int64_t record_bytes(const ProducerRecord& record) {
  auto size = [](const std::optional<std::string>& s) { return static_cast<int64_t>(s ? s->size() : 0); };
  int64_t bytes = kMaxRecordFramingBytes + size(record.key) + size(record.value);
  for (const auto& h : record.headers) {
    bytes += kMaxHeaderFramingBytes + static_cast<int64_t>(h.key.size()) + size(h.value);
  }
  return bytes;
}

size_t entry_bytes(const Batch& batch) {
  return (batch.encoded ? batch.encoded->size() : 0) + batch.tp.topic.size() + kEntryOverheadBytes;
}

size_t request_bytes(const PartitionSend& send) {
  size_t bytes = 0;
  for (const auto& batch : send.batches) bytes += entry_bytes(*batch);
  return bytes;
}

}  // namespace cairn::client
