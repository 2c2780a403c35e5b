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
    if (read->bytes.empty() && read->next_offset <= next) {
      // Nothing readable below the high watermark: this replica's log ends
      // before it for now (a sync or truncation that failed stopped it at
      // its flushed end, or a repair cut it). Read again, it answers the
      // same: say so rather than spin (a spinning replay held the group
      // coordinator's mutex, and with it every thread that serves gRPC).
      return error(ErrorCode::not_leader,
                   "{}: this replica cannot serve offset {} below its high watermark {} now (its log ends at {}); "
                   "retry, or ask the leader",
                   partition.tp(), next, partition.high_watermark(), partition.log_end());
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
