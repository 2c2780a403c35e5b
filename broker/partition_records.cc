#include "broker/partition_records.h"

#include "proto/byte_io.h"

namespace cairn::broker {

Result<Offset> read_records(const Partition& partition, Offset from,
                            const std::function<void(const Record&)>& on_record) {
  Offset next = std::max(from, partition.log_start());
  while (next < partition.high_watermark()) {
    auto read = partition.read(next, 1 << 20);
    if (!read.ok()) return read.status();
    auto data = as_bytes(read->bytes);
    while (!data.empty()) {
      auto header = parse_batch_header(data, data.size());
      if (!header.ok()) return header.status();
      auto batch = data.subspan(0, header->size_bytes());
      data = data.subspan(header->size_bytes());
      if (header->is_control()) continue;
      auto records = decode_batch(batch);
      if (!records.ok()) return records.status();
      for (const auto& record : *records) on_record(record);
    }
    next = read->next_offset;
  }
  return next;
}

}  // namespace cairn::broker
