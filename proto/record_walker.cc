#include "proto/record_walker.h"

#include <algorithm>
#include <cassert>

#include "proto/record_batch_format.h"

namespace cairn {

bool read_record_header(ByteReader& in, std::string_view& key,
                        std::optional<std::string_view>& value) {
  std::optional<std::string_view> nullable_key;
  if (!in.nullable_view(nullable_key) || !nullable_key) return false;
  key = *nullable_key;
  return in.nullable_view(value);
}

RecordWalker::RecordWalker(const BatchHeader& header, std::span<const std::byte> records)
    : header_(header), in_(records) {}

Status RecordWalker::check_count() const {
  assert(header_.record_count > 0 && "check_batch_integrity refuses empty batches");
  if (static_cast<uint64_t>(header_.record_count) * batch_format::kMinRecordSize >
      in_.remaining()) {
    return error(ErrorCode::corrupt_batch, "{} records cannot fit in {} bytes",
                 header_.record_count, in_.remaining());
  }
  return {};
}

template <typename... Args>
bool RecordWalker::fail(fmt::format_string<Args...> format, Args&&... args) {
  failure_ = error(ErrorCode::corrupt_batch, "record {}: {}", index_,
                   fmt::format(format, std::forward<Args>(args)...));
  return false;
}

bool RecordWalker::next(RecordView& out) {
  assert(index_ < header_.record_count && "next() past the last record");
  if (in_.remaining() == 0) {
    failure_ = error(ErrorCode::corrupt_batch, "record {} of {} is missing", index_,
                     header_.record_count);
    return false;
  }
  auto length = in_.varint();
  if (!length) return fail("length is not a varint");
  if (*length < 0 || static_cast<uint64_t>(*length) > in_.remaining()) {
    return fail("length {} is not within the {} bytes left", *length, in_.remaining());
  }
  // The record's own bytes: no field may borrow from the next record.
  ByteReader record(*in_.take(static_cast<size_t>(*length)));
  if (!read_fields(record, out) || !read_headers(record, out)) return false;
  if (record.remaining() != 0) return fail("{} bytes after its last header", record.remaining());
  min_timestamp_ms_ = std::min(min_timestamp_ms_, out.timestamp_ms);
  max_timestamp_ms_ = std::max(max_timestamp_ms_, out.timestamp_ms);
  ++index_;
  return true;
}

bool RecordWalker::read_fields(ByteReader& record, RecordView& out) {
  if (!record.int8()) return fail("attributes missing");  // unused, any value
  auto timestamp_delta = record.varint();
  if (!timestamp_delta) return fail("timestamp delta missing");
  if (__builtin_add_overflow(header_.base_timestamp_ms, *timestamp_delta, &out.timestamp_ms)) {
    return fail("timestamp delta {} overflows", *timestamp_delta);
  }
  auto offset_delta = record.varint();
  if (!offset_delta) return fail("offset delta missing");
  if (*offset_delta != index_) return fail("offset delta {}, expected {}", *offset_delta, index_);
  out.offset_delta = index_;
  if (!record.nullable_view(out.key)) return fail("key length is malformed");
  if (!record.nullable_view(out.value)) return fail("value length is malformed");
  return true;
}

bool RecordWalker::read_headers(ByteReader& record, RecordView& out) {
  auto count = record.varint();
  if (!count) return fail("header count missing");
  // Each header takes at least two bytes: its key and value lengths.
  if (*count < 0 || static_cast<uint64_t>(*count) > record.remaining() / 2) {
    return fail("header count {} does not fit in the {} bytes left", *count, record.remaining());
  }
  ByteReader from_first_header = record;
  std::string_view key;
  std::optional<std::string_view> value;
  for (int64_t i = 0; i < *count; ++i) {
    if (!read_record_header(record, key, value)) return fail("header {} is malformed", i);
  }
  out.header_count = static_cast<int32_t>(*count);
  out.headers = *from_first_header.take(record.position() - from_first_header.position());
  return true;
}

Status RecordWalker::finish() const {
  assert(index_ == header_.record_count && "finish() before the last record");
  if (in_.remaining() != 0) {
    return error(ErrorCode::corrupt_batch, "{} bytes trail the last record", in_.remaining());
  }
  // Any record may come first in a rebuilt batch (compaction), and its
  // timestamp is then the base the others are deltas from.
  int64_t span_ms = 0;
  if (__builtin_sub_overflow(max_timestamp_ms_, min_timestamp_ms_, &span_ms)) {
    return error(ErrorCode::corrupt_batch, "record timestamps {} and {} are too far apart",
                 min_timestamp_ms_, max_timestamp_ms_);
  }
  if (max_timestamp_ms_ != header_.max_timestamp_ms) {
    return error(ErrorCode::corrupt_batch,
                 "max timestamp {} is not the greatest record timestamp {}",
                 header_.max_timestamp_ms, max_timestamp_ms_);
  }
  return {};
}

Status check_records(const BatchHeader& header, std::span<const std::byte> records) {
  RecordWalker walker(header, records);
  CAIRN_RETURN_IF_ERROR(walker.check_count());
  RecordView record;
  for (int32_t i = 0; i < header.record_count; ++i) {
    if (!walker.next(record)) return walker.failure();
  }
  return walker.finish();
}

}  // namespace cairn
