#pragma once

#include <span>
#include <vector>

#include "proto/record_batch.h"
#include "proto/status.h"
#include "proto/strong_int.h"
#include "proto/topic_partition.h"

namespace cairn::client {

// What a fetch returned for one partition, decoded.
struct FetchedRecords {
  std::vector<Record> records;  // offsets from `from` on, ascending
  Offset next;                  // the offset after the last record (`from` if none)
  // The batch that stopped the decoding (corrupt_batch, or record_too_large
  // for records that decompress too large), naming the partition and its
  // offsets; ok when every batch decoded.
  Status failure;
};

// Decodes the whole batches of a fetch response, keeping the records at or
// after `from` (the first batch may begin before it). Control batches are
// read past: `next` moves beyond them, their records are not returned. The first batch that
// does not decode stops it: the records before it are returned, and `next`
// is where to fetch again, so that it is reported, never skipped.
FetchedRecords decode_fetched(const TopicPartition& tp, Offset from,
                              std::span<const std::byte> batches);

}  // namespace cairn::client
