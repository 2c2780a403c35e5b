#pragma once

#include <functional>

#include "broker/partition.h"
#include "proto/record_batch.h"

namespace cairn::broker {

// Hands every record of the data batches of `partition` from `from` up to
// its high watermark to `on_record`, in offset order, skipping control
// batches (the broker's own entries), until `on_record` returns false.
// Returns the offset to continue from: that of the record refused, else
// where reading ended. Stops at the first error.
Result<Offset> scan_records(const Partition& partition, Offset from,
                            const std::function<bool(const Record&)>& on_record);

// scan_records over every record: for the broker's own state machines
// replaying their internal topics (group offsets, share state, cluster metadata).
Result<Offset> read_records(const Partition& partition, Offset from,
                            const std::function<void(const Record&)>& on_record);

}  // namespace cairn::broker
