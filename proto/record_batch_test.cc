#include <catch2/catch.hpp>

#include "proto/batch_test_util.h"
#include "proto/byte_io.h"
#include "proto/control_batch.h"
#include "proto/crc32c.h"
#include "proto/record_batch.h"
#include "proto/record_batch_format.h"

using namespace cairn;
using namespace cairn::testing;
namespace bf = batch_format;

namespace {

std::string build(RecordBatchBuilder& builder) {
  auto batch = builder.build();
  REQUIRE(batch.ok());
  return *batch;
}

}  // namespace

TEST_CASE("RoundTripKeepsEveryField", "[codec]") {
  auto codec = GENERATE(Compression::none, Compression::lz4, Compression::zstd);
  RecordBatchBuilder builder(codec);
  std::vector<RecordHeader> headers = {{"trace", "abc"}, {"empty", std::nullopt}};
  builder.add("k1", "v1", headers, 1000);
  builder.add(std::nullopt, "no key", {}, 1005);
  builder.add("tombstone", std::nullopt, {}, 998);
  builder.add(std::nullopt, std::nullopt, {}, 1001);
  builder.add("", "", {}, 1001);
  std::string batch = build(builder);

  auto header = validate_batch(as_bytes(batch), 1 << 20);
  REQUIRE(header.ok());
  CHECK(header->record_count == 5);
  CHECK(header->last_offset_delta == 4);
  CHECK(header->base_timestamp_ms == 1000);
  CHECK(header->max_timestamp_ms == 1005);
  CHECK(header->compression() == codec);

  stamp_batch(as_writable_bytes(batch), Offset(100), Term(7));
  auto records = decode_batch(as_bytes(batch));
  REQUIRE(records.ok());
  REQUIRE(records->size() == 5);
  const auto& r = *records;
  CHECK(r[0] == Record{"k1", "v1", headers, 1000, Offset(100)});
  CHECK(r[1] == Record{std::nullopt, "no key", {}, 1005, Offset(101)});
  CHECK(r[2] == Record{"tombstone", std::nullopt, {}, 998, Offset(102)});
  CHECK(r[3] == Record{std::nullopt, std::nullopt, {}, 1001, Offset(103)});
  CHECK(r[4] == Record{"", "", {}, 1001, Offset(104)});
}

TEST_CASE("StampingKeepsCrcValid", "[codec]") {
  RecordBatchBuilder builder;
  builder.add("k", "v", {}, 1);
  std::string batch = build(builder);
  stamp_batch(as_writable_bytes(batch), Offset(1'000'000'000'000), Term(42));
  auto header = validate_batch(as_bytes(batch), 1 << 20);
  REQUIRE(header.ok());
  CHECK(header->base_offset == Offset(1'000'000'000'000));
  CHECK(header->leader_epoch == Term(42));
}

TEST_CASE("ManyRecordsRoundTrip", "[codec]") {
  RecordBatchBuilder builder(Compression::lz4);
  for (int i = 0; i < 10'000; ++i) {
    builder.add(std::to_string(i), std::string(i % 300, 'x'), {}, 5'000 + i);
  }
  std::string batch = build(builder);
  auto records = decode_batch(as_bytes(batch));
  REQUIRE(records.ok());
  REQUIRE(records->size() == 10'000);
  for (int i = 0; i < 10'000; ++i) {
    CHECK((*records)[i].key == std::to_string(i));
    CHECK((*records)[i].value->size() == static_cast<size_t>(i % 300));
    CHECK((*records)[i].offset == Offset(i));
  }
}

TEST_CASE("TruncatedBatchIsRejected", "[codec]") {
  RecordBatchBuilder builder;
  builder.add("key", "value", {}, 1);
  builder.add("key", "value", {}, 2);
  std::string batch = build(builder);
  for (size_t len = 0; len < batch.size(); ++len) {
    auto header = validate_batch(as_bytes(std::string_view(batch).substr(0, len)), 1 << 20);
    REQUIRE_FALSE(header.ok());
    CHECK(header.status().code() == ErrorCode::corrupt_batch);
  }
}

TEST_CASE("WrongMagicIsRejected", "[codec]") {
  RecordBatchBuilder builder;
  builder.add("key", "value", {}, 1);
  std::string batch = build(builder);
  batch[bf::kMagicPos] = 1;
  auto header = validate_batch(as_bytes(batch), 1 << 20);
  REQUIRE_FALSE(header.ok());
  CHECK(header.status().code() == ErrorCode::corrupt_batch);
  CHECK_THAT(header.status().message(), Catch::Contains("magic"));
}

TEST_CASE("ChecksumMismatchIsReportedForEveryCoveredByte", "[codec]") {
  RecordBatchBuilder builder;
  std::vector<RecordHeader> headers = {{"h", "x"}};
  builder.add("key", "value", headers, 1);
  std::string batch = build(builder);
  for (size_t pos = bf::kCrcStart; pos < batch.size(); ++pos) {
    std::string damaged = batch;
    damaged[pos] ^= 0x01;
    auto header = validate_batch(as_bytes(damaged), 1 << 20);
    REQUIRE_FALSE(header.ok());
    CHECK(header.status().code() == ErrorCode::corrupt_batch);
  }
}

TEST_CASE("OversizedBatchIsRejectedAsTooLarge", "[codec]") {
  RecordBatchBuilder builder;
  builder.add("key", std::string(2000, 'v'), {}, 1);
  std::string batch = build(builder);
  auto header = validate_batch(as_bytes(batch), 1024);
  REQUIRE_FALSE(header.ok());
  CHECK(header.status().code() == ErrorCode::record_too_large);
}

TEST_CASE("NegativeOrHugeLengthIsRejected", "[codec]") {
  RecordBatchBuilder builder;
  builder.add("key", "value", {}, 1);
  std::string batch = build(builder);
  for (int32_t length : {-1, 0, 10, 0x7fffffff}) {
    std::string damaged = batch;
    store_be<int32_t>(reinterpret_cast<std::byte*>(&damaged[bf::kBatchLengthPos]), length);
    CHECK_FALSE(validate_batch(as_bytes(damaged), 1 << 20).ok());
  }
}

TEST_CASE("CorruptCompressedBodyIsRejected", "[codec]") {
  RecordBatchBuilder builder(Compression::zstd);
  for (int i = 0; i < 100; ++i) builder.add("key", "value value value", {}, i);
  std::string batch = build(builder);
  batch.resize(batch.size() - 5);
  auto b = as_writable_bytes(batch);
  store_be<int32_t>(&b[bf::kBatchLengthPos], static_cast<int32_t>(batch.size() - 12));
  store_be<uint32_t>(&b[bf::kCrcPos], crc32c::value(b.subspan(bf::kCrcStart)));
  auto records = decode_batch(as_bytes(batch));
  REQUIRE_FALSE(records.ok());
  CHECK(records.status().code() == ErrorCode::corrupt_batch);
}

// What a CRC-valid batch may still get wrong: its records. Each case below
// hand-encodes a records section, wraps it in a consistent header with a
// correct CRC, and expects validate_batch (the append path) and decode_batch
// (the consumer path) to refuse it for the same reason.
namespace {

constexpr int64_t kTs = 1000;
constexpr size_t kMaxBatch = 1 << 20;

// key "k", value "v", no headers: the fields after the offset delta.
const std::string kKeyValue("\x02k\x02v\x00", 5);

// One record, field by field after its length prefix.
struct RawRecord {
  int64_t offset_delta = 0;
  int64_t timestamp_delta = 0;
  std::string fields = kKeyValue;
};

std::string body_of(const RawRecord& r) {
  std::string body(1, '\0');  // attributes
  append_varint(body, r.timestamp_delta);
  append_varint(body, r.offset_delta);
  return body + r.fields;
}

std::string encode(const RawRecord& r) {
  std::string body = body_of(r);
  std::string out;
  append_varint(out, static_cast<int64_t>(body.size()));
  return out + body;
}

// Records numbered 0..count-1, as a correct producer writes them.
std::string good_records(int count) {
  std::string out;
  for (int i = 0; i < count; ++i) out += encode({.offset_delta = i});
  return out;
}

// `records` (compressed here when `codec` says so) behind the header of a
// real batch whose records are all at kTs, claiming `count` records.
std::string batch_of(const std::string& records, int32_t count,
                     Compression codec = Compression::none) {
  RecordBatchBuilder builder(codec);
  builder.add("k", "v", {}, kTs);
  std::string section = records;
  if (codec != Compression::none) {
    auto compressed = compress(codec, records);
    REQUIRE(compressed.ok());
    section = *compressed;
  }
  return with_records(build(builder), section, count);
}

void check_rejected(const std::string& batch, std::string_view why) {
  auto valid = validate_batch(as_bytes(batch), kMaxBatch);
  REQUIRE_FALSE(valid.ok());
  CHECK(valid.status().code() == ErrorCode::corrupt_batch);
  CHECK_THAT(valid.status().message(), Catch::Contains(std::string(why)));
  auto decoded = decode_batch(as_bytes(batch));
  REQUIRE_FALSE(decoded.ok());
  CHECK(decoded.status().code() == ErrorCode::corrupt_batch);
  CHECK_THAT(decoded.status().message(), Catch::Contains(std::string(why)));
}

}  // namespace

TEST_CASE("HandBuiltBatchOfGoodRecordsIsAccepted", "[codec][validate]") {
  auto codec = GENERATE(Compression::none, Compression::lz4, Compression::zstd);
  std::string batch = batch_of(good_records(3), 3, codec);
  REQUIRE(validate_batch(as_bytes(batch), kMaxBatch).ok());
  auto records = decode_batch(as_bytes(batch));
  REQUIRE(records.ok());
  CHECK(records->size() == 3);
}

TEST_CASE("RecordLengthPastTheBatchIsRejected", "[codec][validate]") {
  std::string records = good_records(1);
  records[0] = 0x7e;  // length 63, 8 bytes follow
  check_rejected(batch_of(records, 1), "record 0: length 63");
}

TEST_CASE("NegativeRecordLengthIsRejected", "[codec][validate]") {
  std::string records = good_records(1);
  records[0] = 0x01;  // zig-zag -1
  check_rejected(batch_of(records, 1), "record 0: length -1");
}

TEST_CASE("OverlongVarintIsRejected", "[codec][validate]") {
  check_rejected(batch_of(std::string(11, '\xff') + good_records(1), 1), "record 0: length");
}

TEST_CASE("KeyLengthPastItsRecordIsRejectedEvenIfTheBatchHasTheBytes", "[codec][validate]") {
  // The key claims 10 bytes; the next record could lend them, its own cannot.
  std::string bad = encode({.fields = std::string("\x14k\x02v\x00", 5)});
  check_rejected(batch_of(bad + encode({.offset_delta = 1}), 2), "record 0: key");
}

TEST_CASE("ValueLengthBelowMinusOneIsRejected", "[codec][validate]") {
  check_rejected(batch_of(encode({.fields = std::string("\x02k\x03\x00", 4)}), 1),
                 "record 0: value");
}

TEST_CASE("NullHeaderKeyIsRejected", "[codec][validate]") {
  // One header whose key is null (-1).
  check_rejected(batch_of(encode({.fields = std::string("\x02k\x02v\x02\x01\x02x", 8)}), 1),
                 "record 0: header 0");
}

TEST_CASE("HeaderCountPastItsRecordIsRejected", "[codec][validate]") {
  check_rejected(batch_of(encode({.fields = std::string("\x02k\x02v\x7e", 5)}), 1),
                 "record 0: header count 63");
}

TEST_CASE("BytesAfterTheLastHeaderOfARecordAreRejected", "[codec][validate]") {
  check_rejected(batch_of(encode({.fields = kKeyValue + "zz"}), 1),
                 "record 0: 2 bytes after its last header");
}

TEST_CASE("TruncatedRecordFieldsAreRejected", "[codec][validate]") {
  // Length 2: attributes and timestamp delta, but no offset delta.
  check_rejected(batch_of(good_records(2) + std::string("\x04\x00\x00", 3), 3),
                 "record 2: offset delta");
}

TEST_CASE("OffsetDeltasOutOfOrderAreRejected", "[codec][validate]") {
  std::string records = encode({.offset_delta = 1}) + encode({.offset_delta = 0});
  check_rejected(batch_of(records, 2), "record 0: offset delta 1, expected 0");
}

TEST_CASE("RepeatedOffsetDeltaIsRejected", "[codec][validate]") {
  std::string records = encode({.offset_delta = 0}) + encode({.offset_delta = 0});
  check_rejected(batch_of(records, 2), "record 1: offset delta 0, expected 1");
}

TEST_CASE("GapInOffsetDeltasIsRejected", "[codec][validate]") {
  std::string records = encode({.offset_delta = 0}) + encode({.offset_delta = 2});
  check_rejected(batch_of(records, 2), "record 1: offset delta 2, expected 1");
}

TEST_CASE("FewerRecordsThanTheCountAreRejected", "[codec][validate]") {
  // Values long enough that three records could fit in the bytes given.
  std::string fields = "\x02k\x28" + std::string(20, 'v') + std::string(1, '\0');
  std::string records = encode({.offset_delta = 0, .fields = fields}) +
                        encode({.offset_delta = 1, .fields = fields});
  check_rejected(batch_of(records, 3), "record 2 of 3 is missing");
}

TEST_CASE("BytesAfterTheLastRecordAreRejected", "[codec][validate]") {
  check_rejected(batch_of(good_records(2), 1), "bytes trail the last record");
  check_rejected(batch_of(good_records(1) + std::string(1, '\0'), 1),
                 "1 bytes trail the last record");
}

TEST_CASE("MaxTimestampThatNoRecordHasIsRejected", "[codec][validate]") {
  std::string batch = batch_of(good_records(1), 1);
  check_rejected(with_field<int64_t>(batch, bf::kMaxTimestampPos, kTs + 5), "max timestamp");
  std::string later = batch_of(encode({.timestamp_delta = 7}), 1);
  check_rejected(later, "max timestamp 1000 is not the greatest record timestamp 1007");
}

TEST_CASE("OverflowingTimestampDeltaIsRejected", "[codec][validate]") {
  std::string batch = batch_of(encode({.timestamp_delta = INT64_MAX}), 1);
  check_rejected(with_field<int64_t>(batch, bf::kMaxTimestampPos, INT64_MAX), "timestamp delta");
}

TEST_CASE("TimestampsTooFarApartToReencodeAreRejected", "[codec][validate]") {
  std::string records = encode({.offset_delta = 0, .timestamp_delta = -2 - kTs}) +
                        encode({.offset_delta = 1, .timestamp_delta = INT64_MAX - kTs});
  std::string batch = batch_of(records, 2);
  check_rejected(with_field<int64_t>(batch, bf::kMaxTimestampPos, INT64_MAX), "too far apart");
}

TEST_CASE("RecordCountThatCannotFitIsRejectedBeforeAllocating", "[codec][validate]") {
  // Compressed, so the count can only be checked against the inflated size;
  // decode_batch must not size a vector by it first.
  auto codec = GENERATE(Compression::none, Compression::zstd);
  check_rejected(batch_of(good_records(1), INT32_MAX, codec), "records cannot fit");
}

TEST_CASE("CompressedRecordsAreValidatedToo", "[codec][validate]") {
  auto codec = GENERATE(Compression::lz4, Compression::zstd);
  std::string records = encode({.offset_delta = 0}) + encode({.offset_delta = 0});
  check_rejected(batch_of(records, 2, codec), "record 1: offset delta 0, expected 1");
}

TEST_CASE("CompressedRecordsExpandingPastTheLimitAreTooLarge", "[codec][validate]") {
  auto codec = GENERATE(Compression::lz4, Compression::zstd);
  std::string records = encode({.fields = std::string("\x02k\x80\x80\x01", 5) +
                                          std::string(8192, 'v') + std::string(1, '\0')});
  std::string batch = batch_of(records, 1, codec);
  REQUIRE(batch.size() < 4096);
  auto valid = validate_batch(as_bytes(batch), 4096);
  REQUIRE_FALSE(valid.ok());
  CHECK(valid.status().code() == ErrorCode::record_too_large);
  REQUIRE(validate_batch(as_bytes(batch), kMaxBatch).ok());
}

TEST_CASE("CorruptCompressedStreamIsRejectedOnAppend", "[codec][validate]") {
  auto codec = GENERATE(Compression::lz4, Compression::zstd);
  std::string batch = batch_of(good_records(20), 20, codec);
  std::string section(records_section(batch));
  section.resize(section.size() - 3);
  check_rejected(with_records(batch, section, 20), std::string(compression_name(codec)));
}

TEST_CASE("BytesAfterTheLz4FrameAreRejected", "[codec][validate]") {
  std::string batch = batch_of(good_records(2), 2, Compression::lz4);
  check_rejected(with_records(batch, std::string(records_section(batch)) + "xyz", 2),
                 "lz4: 3 bytes after the end of the frame");
}

TEST_CASE("UnsupportedCodecIsRejectedOnAppend", "[codec][validate]") {
  std::string batch = batch_of(good_records(1), 1);
  for (int16_t codec : {1, 2, 5, 7}) {  // gzip, snappy, and no codec at all
    check_rejected(with_field<int16_t>(batch, bf::kAttributesPos, codec), "not supported");
  }
}

TEST_CASE("CheckBatchIntegrityDoesNotWalkRecords", "[codec]") {
  // Reads of stored batches check CRC and header only: their records were
  // walked when they were appended.
  std::string records = encode({.offset_delta = 0}) + encode({.offset_delta = 0});
  std::string batch = batch_of(records, 2);
  CHECK(check_batch_integrity(as_bytes(batch), kMaxBatch).ok());
  CHECK_FALSE(validate_batch(as_bytes(batch), kMaxBatch).ok());
}

TEST_CASE("BaseOffsetWithNoRoomForTheBatchIsRejected", "[codec]") {
  // Found by fuzz_record_batch: the base offset is outside the CRC, and
  // decoding computed base + delta past INT64_MAX.
  std::string batch = batch_of(good_records(2), 2);
  for (int64_t base : {INT64_MAX, INT64_MAX - 1, int64_t{-1}, INT64_MIN}) {
    auto b = as_writable_bytes(batch);
    store_be<int64_t>(&b[bf::kBaseOffsetPos], base);
    check_rejected(batch, "base offset");
    CHECK_FALSE(parse_batch_header(as_bytes(batch), kMaxBatch).ok());
  }
  store_be<int64_t>(&as_writable_bytes(batch)[bf::kBaseOffsetPos], INT64_MAX - 2);
  CHECK(validate_batch(as_bytes(batch), kMaxBatch).ok());
}

TEST_CASE("ControlBatchesAreMarkedAndSayWhatTheyAre", "[record_batch]") {
  auto batch = build_control_batch(ControlType::voters, "v=1,2,3;l=", 1234);
  REQUIRE(batch.ok());
  auto header = validate_batch(as_bytes(*batch), 1 << 20);
  REQUIRE(header.ok());
  CHECK(header->is_control());
  auto records = decode_batch(as_bytes(*batch));
  REQUIRE(records.ok());
  REQUIRE(records->size() == 1);
  CHECK(control_type_of(records->front()) == ControlType::voters);
  CHECK(*records->front().value == "v=1,2,3;l=");

  RecordBatchBuilder plain;
  plain.add(std::string("\0\0\0\6", 4), "x", {}, 1234);
  auto data = plain.build();
  REQUIRE(data.ok());
  CHECK_FALSE(validate_batch(as_bytes(*data), 1 << 20)->is_control());
}
