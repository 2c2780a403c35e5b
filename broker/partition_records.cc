#include "broker/partition_records.h"

#include "proto/byte_io.h"

namespace cairn::broker {

Result<Offset> scan_records(const Partition& partition, Offset from,
                            const std::function<bool(const Record&)>& on_record) {
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
      for (const auto& record : *records) {
        if (record.offset < next) continue;  // the first batch may begin before
        if (!on_record(record)) return record.offset;
      }
    }
    next = std::max(next, read->next_offset);
  }
  return next;
}

Result<Offset> read_records(const Partition& partition, Offset from,
                            const std::function<void(const Record&)>& on_record) {
  return scan_records(partition, from, [&](const Record& record) {
    on_record(record);
    return true;
  });
}

}  // namespace cairn::broker
