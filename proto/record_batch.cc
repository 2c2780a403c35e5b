#include "proto/record_batch.h"

#include <algorithm>
#include <limits>

#include "proto/byte_io.h"
#include "proto/crc32c.h"
#include "proto/record_batch_format.h"
#include "proto/record_walker.h"

namespace cairn {

namespace bf = batch_format;

size_t BatchHeader::size_bytes() const {
  return static_cast<size_t>(batch_length) + bf::kLengthFieldEnd;
}

Compression BatchHeader::compression() const {
  return static_cast<Compression>(attributes & bf::kCompressionMask);
}

bool BatchHeader::is_control() const { return (attributes & bf::kControlBit) != 0; }

Result<BatchHeader> parse_batch_header(std::span<const std::byte> b, size_t max_batch_bytes) {
  if (b.size() < bf::kHeaderSize) {
    return error(ErrorCode::corrupt_batch, "batch header truncated: {} of {} bytes", b.size(),
                 bf::kHeaderSize);
  }
  BatchHeader h;
  h.base_offset = Offset(load_be<int64_t>(&b[bf::kBaseOffsetPos]));
  h.batch_length = load_be<int32_t>(&b[bf::kBatchLengthPos]);
  h.leader_epoch = Term(load_be<int32_t>(&b[bf::kLeaderEpochPos]));
  h.magic = load_be<int8_t>(&b[bf::kMagicPos]);
  h.crc = load_be<uint32_t>(&b[bf::kCrcPos]);
  h.attributes = load_be<int16_t>(&b[bf::kAttributesPos]);
  h.last_offset_delta = load_be<int32_t>(&b[bf::kLastOffsetDeltaPos]);
  h.base_timestamp_ms = load_be<int64_t>(&b[bf::kBaseTimestampPos]);
  h.max_timestamp_ms = load_be<int64_t>(&b[bf::kMaxTimestampPos]);
  h.producer_id = load_be<int64_t>(&b[bf::kProducerIdPos]);
  h.producer_epoch = load_be<int16_t>(&b[bf::kProducerEpochPos]);
  h.base_sequence = load_be<int32_t>(&b[bf::kBaseSequencePos]);
  h.record_count = load_be<int32_t>(&b[bf::kRecordCountPos]);

  if (h.batch_length < static_cast<int32_t>(bf::kHeaderSize - bf::kLengthFieldEnd)) {
    return error(ErrorCode::corrupt_batch, "batch length {} is shorter than a header",
                 h.batch_length);
  }
  if (h.size_bytes() > max_batch_bytes) {
    return error(ErrorCode::record_too_large, "batch of {} bytes exceeds the limit of {} bytes",
                 h.size_bytes(), max_batch_bytes);
  }
  if (h.magic != bf::kMagic) {
    return error(ErrorCode::corrupt_batch, "unsupported magic {} (expected {})", h.magic,
                 bf::kMagic);
  }
  // The base offset is outside the CRC: whatever it holds, last_offset() and
  // next_offset() must not overflow.
  if (h.base_offset.value < 0 || h.last_offset_delta < 0 ||
      h.base_offset.value > std::numeric_limits<int64_t>::max() - h.last_offset_delta - 1) {
    return error(ErrorCode::corrupt_batch, "base offset {} and last offset delta {} are out of range",
                 h.base_offset, h.last_offset_delta);
  }
  return h;
}

Result<BatchHeader> check_batch_integrity(std::span<const std::byte> batch,
                                          size_t max_batch_bytes) {
  auto header = parse_batch_header(batch, max_batch_bytes);
  if (!header.ok()) return header;
  const BatchHeader& h = *header;
  if (h.size_bytes() != batch.size()) {
    return error(ErrorCode::corrupt_batch, "batch length says {} bytes but {} were given",
                 h.size_bytes(), batch.size());
  }
  uint32_t actual = crc32c::value(batch.subspan(bf::kCrcStart));
  if (actual != h.crc) {
    return error(ErrorCode::corrupt_batch, "crc mismatch: stored {:#010x}, computed {:#010x}",
                 h.crc, actual);
  }
  if (h.record_count <= 0 || h.last_offset_delta != h.record_count - 1) {
    return error(ErrorCode::corrupt_batch,
                 "record count {} does not match last offset delta {}", h.record_count,
                 h.last_offset_delta);
  }
  if (h.max_timestamp_ms < h.base_timestamp_ms) {
    return error(ErrorCode::corrupt_batch, "max timestamp {} is before base timestamp {}",
                 h.max_timestamp_ms, h.base_timestamp_ms);
  }
  return header;
}

namespace {

// The records section of an intact batch, decompressed into `storage` when
// the codec is not none (at most `max_bytes`); else a view of the batch.
Result<std::span<const std::byte>> records_section(const BatchHeader& h,
                                                   std::span<const std::byte> batch,
                                                   size_t max_bytes, std::string& storage) {
  auto body = batch.subspan(bf::kHeaderSize);
  if (h.compression() == Compression::none) return body;
  auto inflated = decompress(h.compression(), body, max_bytes);
  if (!inflated.ok()) return inflated.status();
  storage = std::move(*inflated);
  return as_bytes(storage);
}

}  // namespace

Result<BatchHeader> validate_batch(std::span<const std::byte> batch, size_t max_batch_bytes) {
  auto header = check_batch_integrity(batch, max_batch_bytes);
  if (!header.ok()) return header;
  std::string inflated;
  auto records = records_section(*header, batch, max_batch_bytes, inflated);
  if (!records.ok()) return records.status();
  CAIRN_RETURN_IF_ERROR(check_records(*header, *records));
  return header;
}

void stamp_batch(std::span<std::byte> batch, Offset base_offset, Term leader_epoch) {
  assert(batch.size() >= bf::kHeaderSize);
  store_be<int64_t>(&batch[bf::kBaseOffsetPos], base_offset.value);
  store_be<int32_t>(&batch[bf::kLeaderEpochPos], static_cast<int32_t>(leader_epoch.value));
}

void stamp_producer(std::span<std::byte> batch, int64_t producer_id, int16_t producer_epoch,
                    int32_t base_sequence) {
  assert(batch.size() >= bf::kHeaderSize);
  store_be<int64_t>(&batch[bf::kProducerIdPos], producer_id);
  store_be<int16_t>(&batch[bf::kProducerEpochPos], producer_epoch);
  store_be<int32_t>(&batch[bf::kBaseSequencePos], base_sequence);
  store_be<uint32_t>(&batch[bf::kCrcPos], crc32c::value(batch.subspan(bf::kCrcStart)));
}

namespace {

Record to_record(const RecordView& view, Offset base_offset) {
  Record r;
  r.key = view.key;
  r.value = view.value;
  r.timestamp_ms = view.timestamp_ms;
  r.offset = base_offset + view.offset_delta;
  r.headers.resize(static_cast<size_t>(view.header_count));
  ByteReader in(view.headers);
  for (RecordHeader& header : r.headers) {
    std::string_view key;
    std::optional<std::string_view> value;
    [[maybe_unused]] bool ok = read_record_header(in, key, value);
    assert(ok && "the walker checked these headers");
    header.key = key;
    header.value = value;
  }
  return r;
}

}  // namespace

Result<std::vector<Record>> decode_batch(std::span<const std::byte> batch,
                                         size_t max_uncompressed_bytes) {
  auto header = check_batch_integrity(batch, batch.size());
  if (!header.ok()) return header.status();
  const BatchHeader& h = *header;
  std::string inflated;
  auto section = records_section(h, batch, max_uncompressed_bytes, inflated);
  if (!section.ok()) return section.status();

  RecordWalker walker(h, *section);
  CAIRN_RETURN_IF_ERROR(walker.check_count());
  std::vector<Record> records;
  records.reserve(static_cast<size_t>(h.record_count));
  RecordView view;
  for (int32_t i = 0; i < h.record_count; ++i) {
    if (!walker.next(view)) return walker.failure();
    records.push_back(to_record(view, h.base_offset));
  }
  CAIRN_RETURN_IF_ERROR(walker.finish());
  return records;
}

namespace {

size_t varint_size(int64_t value) {
  auto zigzag = (static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63);
  size_t n = 1;
  while (zigzag >= 0x80) {
    zigzag >>= 7;
    ++n;
  }
  return n;
}

size_t nullable_size(std::optional<std::string_view> bytes) {
  return bytes ? varint_size(static_cast<int64_t>(bytes->size())) + bytes->size() : varint_size(-1);
}

void append_nullable(std::string& out, std::optional<std::string_view> bytes) {
  if (!bytes) {
    append_varint(out, -1);
    return;
  }
  append_varint(out, static_cast<int64_t>(bytes->size()));
  out.append(*bytes);
}

std::optional<std::string_view> view_of(const std::optional<std::string>& s) {
  return s ? std::optional<std::string_view>(*s) : std::nullopt;
}

}  // namespace

void RecordBatchBuilder::add(std::optional<std::string_view> key,
                             std::optional<std::string_view> value,
                             std::span<const RecordHeader> headers, int64_t timestamp_ms) {
  if (record_count_ == 0) {
    base_timestamp_ms_ = timestamp_ms;
    max_timestamp_ms_ = timestamp_ms;
  }
  // Timestamps earlier than the first record's make a negative delta, which
  // the format allows; max timestamp tracks the newest. Two timestamps 2^63
  // ms or more apart wrap (defined, unlike signed overflow), and
  // validate_batch then refuses the batch.
  max_timestamp_ms_ = std::max(max_timestamp_ms_, timestamp_ms);
  const auto timestamp_delta = static_cast<int64_t>(static_cast<uint64_t>(timestamp_ms) -
                                                    static_cast<uint64_t>(base_timestamp_ms_));

  // The record's length comes first, so size it before encoding it straight
  // into the batch (no temporary per record: this is the producer's hot path).
  size_t body = 1 + varint_size(timestamp_delta) + varint_size(record_count_) + nullable_size(key) +
                nullable_size(value) + varint_size(static_cast<int64_t>(headers.size()));
  for (const auto& header : headers) {
    body += nullable_size(header.key) + nullable_size(view_of(header.value));
  }
  append_varint(records_, static_cast<int64_t>(body));
  [[maybe_unused]] size_t body_start = records_.size();
  records_.push_back(0);  // record attributes: unused
  append_varint(records_, timestamp_delta);
  append_varint(records_, record_count_);
  append_nullable(records_, key);
  append_nullable(records_, value);
  append_varint(records_, static_cast<int64_t>(headers.size()));
  for (const auto& header : headers) {
    append_nullable(records_, header.key);
    append_nullable(records_, view_of(header.value));
  }
  assert(records_.size() - body_start == body && "record size computed wrongly");
  ++record_count_;
}

void RecordBatchBuilder::set_producer(int64_t producer_id, int16_t producer_epoch,
                                      int32_t base_sequence) {
  producer_id_ = producer_id;
  producer_epoch_ = producer_epoch;
  base_sequence_ = base_sequence;
}

size_t RecordBatchBuilder::size_bytes() const { return bf::kHeaderSize + records_.size(); }

Result<std::string> RecordBatchBuilder::build() const {
  assert(record_count_ > 0 && "a batch holds at least one record");
  std::string body_storage;
  std::string_view body = records_;
  if (compression_ != Compression::none) {
    auto compressed = compress(compression_, records_);
    if (!compressed.ok()) return compressed.status();
    body_storage = std::move(*compressed);
    body = body_storage;
  }
  std::string out(bf::kHeaderSize, '\0');
  out.append(body);
  auto b = as_writable_bytes(out);
  store_be<int64_t>(&b[bf::kBaseOffsetPos], 0);
  store_be<int32_t>(&b[bf::kBatchLengthPos], static_cast<int32_t>(out.size() - bf::kLengthFieldEnd));
  store_be<int32_t>(&b[bf::kLeaderEpochPos], 0);
  store_be<int8_t>(&b[bf::kMagicPos], bf::kMagic);
  store_be<int16_t>(&b[bf::kAttributesPos],
                    static_cast<int16_t>(static_cast<int16_t>(compression_) |
                                         (control_ ? bf::kControlBit : 0)));
  store_be<int32_t>(&b[bf::kLastOffsetDeltaPos], record_count_ - 1);
  store_be<int64_t>(&b[bf::kBaseTimestampPos], base_timestamp_ms_);
  store_be<int64_t>(&b[bf::kMaxTimestampPos], max_timestamp_ms_);
  store_be<int64_t>(&b[bf::kProducerIdPos], producer_id_);
  store_be<int16_t>(&b[bf::kProducerEpochPos], producer_epoch_);
  store_be<int32_t>(&b[bf::kBaseSequencePos], base_sequence_);
  store_be<int32_t>(&b[bf::kRecordCountPos], record_count_);
  store_be<uint32_t>(&b[bf::kCrcPos], crc32c::value(b.subspan(bf::kCrcStart)));
  return out;
}

void RecordBatchBuilder::reset() {
  records_.clear();
  record_count_ = 0;
  base_timestamp_ms_ = max_timestamp_ms_ = 0;
}

}  // namespace cairn
