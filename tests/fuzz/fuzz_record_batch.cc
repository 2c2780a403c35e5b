// Fuzzes the record-batch validator and decoder (proto/record_batch.h).
//
// The input is a batch whose length and CRC fields are fixed up before it is
// checked, so the fuzzer explores the record walk instead of failing on the
// CRC. Properties, each an abort when broken:
// - validate_batch and decode_batch accept exactly the same batches (they
//   share one record walk);
// - a valid batch decodes to record_count records at offsets base..last, its
//   max timestamp the greatest record timestamp;
// - re-encoding the decoded records gives a batch that decodes to the same
//   records.
#include <cstring>
#include <string>

#include "proto/batch_test_util.h"
#include "proto/byte_io.h"
#include "proto/record_batch.h"
#include "proto/assert.h"

namespace {

using namespace cairn;
using cairn::testing::reseal;

// Small, so the fuzzer also reaches the record_too_large paths.
constexpr size_t kMaxBatchBytes = 1 << 16;

void check_records(const BatchHeader& h, const std::vector<Record>& records) {
  CAIRN_ASSERT(records.size() == static_cast<size_t>(h.record_count));
  int64_t max_ts = INT64_MIN;
  for (size_t i = 0; i < records.size(); ++i) {
    CAIRN_ASSERT(records[i].offset == h.base_offset + static_cast<int32_t>(i));
    max_ts = std::max(max_ts, records[i].timestamp_ms);
  }
  CAIRN_ASSERT(max_ts == h.max_timestamp_ms);
}

void check_reencoding(const std::vector<Record>& records) {
  RecordBatchBuilder builder;
  for (const Record& r : records) builder.add(r.key, r.value, r.headers, r.timestamp_ms);
  auto again = builder.build();
  CAIRN_ASSERT(again.ok());
  CAIRN_ASSERT(validate_batch(as_bytes(*again), again->size()).ok());
  auto decoded = decode_batch(as_bytes(*again));
  CAIRN_ASSERT(decoded.ok() && decoded->size() == records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    const Record& a = records[i];
    const Record& b = (*decoded)[i];
    CAIRN_ASSERT(a.key == b.key && a.value == b.value && a.headers == b.headers &&
            a.timestamp_ms == b.timestamp_ms);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string batch(reinterpret_cast<const char*>(data), size);
  // As given first: the header and CRC checks must hold on arbitrary bytes.
  (void)validate_batch(as_bytes(batch), kMaxBatchBytes);
  reseal(batch);
  auto valid = validate_batch(as_bytes(batch), kMaxBatchBytes);
  auto decoded = decode_batch(as_bytes(batch), kMaxBatchBytes);
  CAIRN_ASSERT(valid.ok() == decoded.ok());
  if (!valid.ok()) return 0;
  check_records(*valid, *decoded);
  check_reencoding(*decoded);
  return 0;
}
