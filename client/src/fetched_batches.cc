#include "fetched_batches.h"

#include <algorithm>

namespace cairn::client {

FetchedRecords decode_fetched(const TopicPartition& tp, Offset from,
                              std::span<const std::byte> batches) {
  FetchedRecords out{{}, from, {}};
  while (!batches.empty()) {
    auto header = parse_batch_header(batches, batches.size());
    if (!header.ok()) {
      out.failure = error(ErrorCode::corrupt_batch, "{} at offset {}: a batch header does not parse ({})",
                          tp, out.next, header.status().message());
      return out;
    }
    if (header->is_control()) {  // the broker's own entry: read past it
      out.next = std::max(out.next, header->next_offset());
      batches = batches.subspan(header->size_bytes());
      continue;
    }
    auto records = decode_batch(batches.subspan(0, header->size_bytes()));
    if (!records.ok()) {
      out.failure = error(records.status().code(),
                          "{} at offset {}: the batch of offsets {}..{} does not decode ({}); seek past "
                          "it to skip it",
                          tp, header->base_offset, header->base_offset, header->last_offset(),
                          records.status().message());
      return out;
    }
    for (auto& r : *records) {
      if (r.offset < out.next) continue;  // the batch began before `from`
      out.next = r.offset + 1;
      out.records.push_back(std::move(r));
    }
    batches = batches.subspan(header->size_bytes());
  }
  return out;
}

}  // namespace cairn::client
