#include "fetched_batches.h"

#include <catch2/catch.hpp>

#include "proto/batch_test_util.h"
#include "proto/control_batch.h"

using namespace cairn;
using cairn::client::decode_fetched;

namespace {

// A batch of `count` records "v<offset>" stamped at `base`.
std::string batch_at(int64_t base, int count) {
  RecordBatchBuilder builder;
  for (int i = 0; i < count; ++i) builder.add(std::nullopt, "v" + std::to_string(base + i), {}, 1000);
  std::string batch = std::move(builder.build()).value();
  stamp_batch(as_writable_bytes(batch), Offset(base), Term(0));
  return batch;
}

// The same batch with a record length that breaks its framing, resealed:
// the CRC holds, the records do not decode.
std::string undecodable_batch_at(int64_t base, int count) {
  std::string batch = batch_at(base, count);
  batch[batch_format::kHeaderSize] = 0x02;  // zigzag varint 1: too short for any record
  testing::reseal(batch);
  return batch;
}

std::vector<int64_t> offsets(const client::FetchedRecords& fetched) {
  std::vector<int64_t> out;
  for (const auto& r : fetched.records) out.push_back(r.offset.value);
  return out;
}

const TopicPartition kTp{"t", 0};

}  // namespace

TEST_CASE("FetchedBatchesDecodeFromThePosition", "[client]") {
  std::string bytes = batch_at(0, 3) + batch_at(3, 3);
  auto fetched = decode_fetched(kTp, Offset(1), as_bytes(bytes));
  CHECK(fetched.failure.ok());
  CHECK(offsets(fetched) == std::vector<int64_t>{1, 2, 3, 4, 5});
  CHECK(fetched.next == Offset(6));
  CHECK(fetched.records.front().value == "v1");
}

TEST_CASE("UndecodableBatchStopsDecodingAndIsNamed", "[client]") {
  std::string bytes = batch_at(0, 3) + undecodable_batch_at(3, 3) + batch_at(6, 3);
  auto fetched = decode_fetched(kTp, Offset(0), as_bytes(bytes));
  CHECK(offsets(fetched) == std::vector<int64_t>{0, 1, 2});
  CHECK(fetched.next == Offset(3));  // fetched again from there, not skipped
  CHECK(fetched.failure.code() == ErrorCode::corrupt_batch);
  CHECK_THAT(fetched.failure.message(), Catch::StartsWith("t/0 at offset 3: the batch of offsets 3..5 does not decode"));
}

TEST_CASE("UndecodableBatchAroundThePositionKeepsThePosition", "[client]") {
  std::string bytes = undecodable_batch_at(3, 3);
  auto fetched = decode_fetched(kTp, Offset(4), as_bytes(bytes));
  CHECK(fetched.records.empty());
  CHECK(fetched.next == Offset(4));
  CHECK(fetched.failure.code() == ErrorCode::corrupt_batch);
}

TEST_CASE("TruncatedBatchHeaderStopsDecoding", "[client]") {
  std::string bytes = batch_at(0, 2) + batch_at(2, 2).substr(0, 20);
  auto fetched = decode_fetched(kTp, Offset(0), as_bytes(bytes));
  CHECK(offsets(fetched) == std::vector<int64_t>{0, 1});
  CHECK(fetched.next == Offset(2));
  CHECK(fetched.failure.code() == ErrorCode::corrupt_batch);
  CHECK_THAT(fetched.failure.message(), Catch::Contains("t/0 at offset 2: a batch header does not parse"));
}

TEST_CASE("ControlBatchesAreReadPastNeverHandedOut", "[client]") {
  std::string control = build_control_batch(ControlType::leader_change, "", 1000).value();
  stamp_batch(as_writable_bytes(control), Offset(3), Term(0));
  std::string trailing = build_control_batch(ControlType::voters, "v=1,2,3;l=", 1000).value();
  stamp_batch(as_writable_bytes(trailing), Offset(6), Term(0));
  auto fetched = decode_fetched(kTp, Offset(0), as_bytes(batch_at(0, 3) + control + batch_at(4, 2) + trailing));
  CHECK(fetched.failure.ok());
  CHECK(offsets(fetched) == std::vector<int64_t>{0, 1, 2, 4, 5});
  CHECK(fetched.next == Offset(7));  // past the trailing control batch, or it is fetched forever
}
