#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "proto/byte_io.h"
#include "proto/record_batch.h"
#include "proto/status.h"

namespace cairn {

// One record's fields as views into the records section being walked; they
// live as long as that section.
struct RecordView {
  int64_t timestamp_ms = 0;
  int32_t offset_delta = 0;
  std::optional<std::string_view> key;
  std::optional<std::string_view> value;
  int32_t header_count = 0;
  std::span<const std::byte> headers;  // header_count headers, framing checked
};

// Reads one record header (a non-null key, a nullable value) from `in`;
// false when it is malformed.
bool read_record_header(ByteReader& in, std::string_view& key,
                        std::optional<std::string_view>& value);

// Walks the (uncompressed) records section of one batch, checking each
// record against the batch header. Shared by validate_batch and
// decode_batch, so the broker stores exactly what consumers can decode.
//
// Invariants checked, each failure a corrupt_batch naming the record:
// - every length fits in what is left of its record, every record in what is
//   left of the section, and a record's fields fill its length exactly;
// - record i has offset delta i: Cairn appends a batch's bytes as they came
//   (it never rewrites them, unlike Kafka), so the offsets its records claim
//   must be the ones the header's count assigns;
// - no timestamp overflows, any two are less than 2^63 ms apart (so any
//   subset re-encodes with in-range deltas), and the greatest one is the
//   header's max (the time index trusts it);
// - record_count records and nothing after them.
// Never allocates and never reads outside `records`. Not thread-safe.
class RecordWalker {
 public:
  // `records` must outlive the walker.
  RecordWalker(const BatchHeader& header, std::span<const std::byte> records);

  // Whether record_count records could fit at all: checked before anything
  // is sized by a count read from the batch.
  Status check_count() const;
  // Reads the next record into `out`; call record_count times while true.
  // False when the record is malformed: failure() then says why. (A bool,
  // not a Status, per record: this runs for every record appended.)
  bool next(RecordView& out);
  Status failure() const { return failure_; }
  // After the last record: nothing trails, and the max timestamp matches.
  Status finish() const;

 private:
  bool read_fields(ByteReader& record, RecordView& out);
  bool read_headers(ByteReader& record, RecordView& out);
  // Records why the current record is malformed; returns false.
  template <typename... Args>
  bool fail(fmt::format_string<Args...> format, Args&&... args);

  const BatchHeader& header_;
  Status failure_;
  ByteReader in_;
  int32_t index_ = 0;  // of the next record
  int64_t min_timestamp_ms_ = INT64_MAX;
  int64_t max_timestamp_ms_ = INT64_MIN;
};

// Walks every record of a section without keeping any (validate_batch).
Status check_records(const BatchHeader& header, std::span<const std::byte> records);

}  // namespace cairn
