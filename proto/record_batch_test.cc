#include <catch2/catch.hpp>

#include "proto/byte_io.h"
#include "proto/record_batch.h"
#include "proto/crc32c.h"
#include "proto/record_batch_format.h"

using namespace cairn;
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

TEST_CASE("MalformedRecordsAreRejectedEvenWithValidCrc", "[codec]") {
  // A batch whose CRC is right but whose record section lies about lengths.
  RecordBatchBuilder builder;
  builder.add("key", "value", {}, 1);
  std::string batch = build(builder);
  batch[bf::kHeaderSize] = 0x7e;  // record length varint: far beyond the batch
  auto b = as_writable_bytes(batch);
  store_be<uint32_t>(&b[bf::kCrcPos], crc32c::value(b.subspan(bf::kCrcStart)));
  REQUIRE(validate_batch(as_bytes(batch), 1 << 20).ok());
  auto records = decode_batch(as_bytes(batch));
  REQUIRE_FALSE(records.ok());
  CHECK(records.status().code() == ErrorCode::corrupt_batch);
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
