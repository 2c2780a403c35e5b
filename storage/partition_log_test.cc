#include <catch2/catch.hpp>

#include "proto/batch_test_util.h"
#include "proto/record_batch_format.h"
#include "storage/test_util.h"

using namespace cairn;
using namespace cairn::storage;
using namespace cairn::storage::testing;

TEST_CASE("AppendAssignsContiguousOffsetsAndReadReturnsThem", "[log]") {
  StoreFixture f;
  auto log = f.log();
  auto first = append(*log, make_batch(3, 1000, "a"));
  auto second = append(*log, make_batch(2, 2000, "b"), Term(4));
  CHECK(first.base_offset == Offset(0));
  CHECK(first.last_offset == Offset(2));
  CHECK(second.base_offset == Offset(3));
  CHECK(second.last_offset == Offset(4));
  CHECK(log->log_end() == Offset(5));

  auto read = log->read(Offset(0), 1 << 20, Offset::max());
  REQUIRE(read.ok());
  CHECK(read->next_offset == Offset(5));
  auto records = decode_all(read->bytes);
  REQUIRE(records.size() == 5);
  CHECK(records[0].value == "a-0");
  CHECK(records[4].value == "b-1");
  CHECK(records[4].offset == Offset(4));
  auto header = parse_batch_header(as_bytes(read->bytes), 1 << 20);
  REQUIRE(header.ok());
  CHECK(header->leader_epoch == Term(1));
}

TEST_CASE("ReadStartsWithTheBatchHoldingTheOffset", "[log]") {
  StoreFixture f;
  auto log = f.log();
  for (int i = 0; i < 100; ++i) append(*log, make_batch(10, 1000 + i, "b" + std::to_string(i), 100));
  for (int64_t offset : {0, 5, 10, 99, 500, 555, 999}) {
    auto read = log->read(Offset(offset), 1, Offset::max());
    REQUIRE(read.ok());
    auto records = decode_all(read->bytes);
    REQUIRE(records.size() == 10);  // one whole batch even though max_bytes is 1
    CHECK(records.front().offset == Offset(offset / 10 * 10));
    CHECK(read->next_offset == Offset(offset / 10 * 10 + 10));
  }
}

TEST_CASE("ReadHonoursMaxBytesAndMaxOffset", "[log]") {
  StoreFixture f;
  auto log = f.log();
  std::string batch = make_batch(1, 1000, "x", 1000);
  size_t batch_size = batch.size();
  for (int i = 0; i < 20; ++i) append(*log, batch);

  auto read = log->read(Offset(0), batch_size * 5 + 10, Offset::max());
  REQUIRE(read.ok());
  CHECK(read->bytes.size() == batch_size * 5);
  CHECK(read->next_offset == Offset(5));

  auto bounded = log->read(Offset(3), 1 << 20, Offset(7));
  REQUIRE(bounded.ok());
  CHECK(decode_all(bounded->bytes).size() == 4);
  CHECK(bounded->next_offset == Offset(7));

  auto at_bound = log->read(Offset(7), 1 << 20, Offset(7));
  REQUIRE(at_bound.ok());
  CHECK(at_bound->bytes.empty());

  auto too_small = log->read(Offset(0), batch_size - 1, Offset::max(), FirstBatch::only_if_it_fits);
  REQUIRE(too_small.ok());
  CHECK(too_small->bytes.empty());
  CHECK(too_small->next_offset == Offset(0));
  auto fits = log->read(Offset(0), batch_size * 2, Offset::max(), FirstBatch::only_if_it_fits);
  REQUIRE(fits.ok());
  CHECK(fits->bytes.size() == batch_size * 2);
}

TEST_CASE("ReadOutsideTheLogIsOffsetOutOfRange", "[log]") {
  StoreFixture f;
  auto log = f.log();
  append(*log, make_batch(5, 1000));
  auto beyond = log->read(Offset(6), 1024, Offset::max());
  REQUIRE_FALSE(beyond.ok());
  CHECK(beyond.status().code() == ErrorCode::offset_out_of_range);
  auto at_end = log->read(Offset(5), 1024, Offset::max());
  REQUIRE(at_end.ok());
  CHECK(at_end->bytes.empty());
  auto negative = log->read(Offset(-1), 1024, Offset::max());
  CHECK(negative.status().code() == ErrorCode::offset_out_of_range);
}

TEST_CASE("BadBatchIsRejectedAndNothingIsWritten", "[log]") {
  StoreFixture f;
  auto log = f.log(*LogConfig().with({{"max.message.bytes", "2048"}}));
  append(*log, make_batch(2, 1000));
  uint64_t size_before = log->size_bytes();

  std::string corrupt = make_batch(2, 1000);
  corrupt.back() ^= 0x40;
  auto bad_crc = log->append(as_bytes(corrupt), Term(1));
  CHECK(bad_crc.status().code() == ErrorCode::corrupt_batch);

  std::string truncated = make_batch(2, 1000).substr(0, 40);
  CHECK(log->append(as_bytes(truncated), Term(1)).status().code() == ErrorCode::corrupt_batch);

  std::string big = make_batch(1, 1000, "big", 4000);
  CHECK(log->append(as_bytes(big), Term(1)).status().code() == ErrorCode::record_too_large);

  std::string empty;
  CHECK(log->append(as_bytes(empty), Term(1)).status().code() == ErrorCode::corrupt_batch);

  CHECK(log->size_bytes() == size_before);
  CHECK(log->log_end() == Offset(2));
  append(*log, make_batch(1, 1000));
  CHECK(log->log_end() == Offset(3));
}

TEST_CASE("CrcValidBatchWhoseRecordsDoNotDecodeStoresNothing", "[log]") {
  StoreFixture f;
  auto log = f.log();
  append(*log, make_batch(2, 1000));
  uint64_t size_before = log->size_bytes();

  // Two records that both claim offset delta 0, behind a correct CRC.
  std::string one = make_batch(1, 1000);
  std::string section(cairn::testing::records_section(one));
  std::string repeated = cairn::testing::with_records(one, section + section, 2);
  auto appended = log->append(as_bytes(repeated), Term(1));
  REQUIRE_FALSE(appended.ok());
  CHECK(appended.status().code() == ErrorCode::corrupt_batch);

  CHECK(log->size_bytes() == size_before);
  CHECK(log->log_end() == Offset(2));
  auto read = log->read(Offset(0), 1 << 20, Offset::max());
  REQUIRE(read.ok());
  CHECK(decode_all(read->bytes).size() == 2);
  log.reset();
  f.reopen();
  CHECK(f.log()->log_end() == Offset(2));
}

TEST_CASE("AppendOfSeveralBatchesIsAllOrNothing", "[log]") {
  StoreFixture f;
  auto log = f.log(*LogConfig().with({{"cleanup.policy", "compact"}}));
  auto keyed = [](const std::string& key) {
    RecordBatchBuilder builder;
    builder.add(key, "v", {}, 1000);
    return std::move(builder.build()).value();
  };
  std::string first = keyed("a");
  REQUIRE(log->append(as_bytes(first), Term(1)).ok());
  uint64_t size_before = log->size_bytes();
  auto refused = [&](std::vector<std::string> batches) {
    std::vector<std::span<const std::byte>> spans;
    for (const auto& b : batches) spans.push_back(as_bytes(b));
    auto appended = log->append(spans, Term(1));
    CHECK(log->size_bytes() == size_before);
    CHECK(log->log_end() == Offset(1));
    return appended.ok() ? ErrorCode::ok : appended.status().code();
  };
  std::string bad_crc = keyed("c");
  bad_crc.back() ^= 0x01;
  CHECK(refused({keyed("b"), keyed("c"), bad_crc}) == ErrorCode::corrupt_batch);
  CHECK(refused({keyed("b"), make_batch(1, 1000)}) == ErrorCode::invalid_request);  // no key
  f.env.short_write_next_append();
  CHECK(refused({keyed("b"), keyed("c"), keyed("d")}) == ErrorCode::io_error);

  std::vector<std::string> batches{keyed("b"), keyed("c")};
  std::vector<std::span<const std::byte>> spans{as_bytes(batches[0]), as_bytes(batches[1])};
  auto appended = log->append(spans, Term(1));
  REQUIRE(appended.ok());
  CHECK(appended->base_offset == Offset(1));
  CHECK(appended->last_offset == Offset(2));
  log.reset();
  f.reopen();
  CHECK(values_of(*f.log()) == std::vector<std::string>{"v", "v", "v"});
}

TEST_CASE("AFailedIndexWriteLeavesNoRecordsBehindAnError", "[log]") {
  StoreFixture f;
  auto log = f.log(manual_flush_config());
  // Rising timestamps give every batch a pending time entry, so an append
  // soon has to write the pending entries to RocksDB.
  f.store->index().fail_writes_for_testing(true);
  int64_t timestamp = 1000;
  std::optional<Status> failure;
  for (int i = 0; i < 4 * static_cast<int>(kMaxPendingIndexEntries) && !failure; ++i) {
    Offset end_before = log->log_end();
    uint64_t size_before = log->size_bytes();
    std::string batch = make_batch(1, timestamp++);
    auto appended = log->append(as_bytes(batch), Term(1));
    if (appended.ok()) continue;
    failure = appended.status();
    CHECK(log->log_end() == end_before);
    CHECK(log->size_bytes() == size_before);
  }
  REQUIRE(failure);
  CHECK(failure->code() == ErrorCode::io_error);
  f.store->index().fail_writes_for_testing(false);
  Offset end = log->log_end();
  append(*log, make_batch(1, timestamp++, "after"));
  CHECK(log->flush_now().ok());
  CHECK(values_of(*log).size() == static_cast<size_t>(end.value) + 1);
  // The entries kept pending through the failure reach the index.
  auto found = log->offset_for_time(1000 + end.value / 2);
  REQUIRE(found.ok());
  REQUIRE(found->has_value());
  CHECK(**found == Offset(end.value / 2));
}

TEST_CASE("ActiveSegmentRollsBySize", "[log]") {
  StoreFixture f;
  auto log = f.log(*LogConfig().with({{"segment.bytes", "4096"}}));
  for (int i = 0; i < 40; ++i) append(*log, make_batch(1, 1000 + i, "v", 500));
  CHECK(log->segment_count() > 4);
  auto read = log->read(Offset(0), 1 << 30, Offset::max());
  REQUIRE(read.ok());
  // One read stays inside one segment: keep reading until the end.
  std::vector<Record> all;
  Offset next(0);
  while (next < log->log_end()) {
    auto part = log->read(next, 1 << 20, Offset::max());
    REQUIRE(part.ok());
    REQUIRE(part->next_offset > next);
    auto records = decode_all(part->bytes);
    all.insert(all.end(), records.begin(), records.end());
    next = part->next_offset;
  }
  REQUIRE(all.size() == 40);
  for (int i = 0; i < 40; ++i) CHECK(all[i].offset == Offset(i));
  CHECK(f.env.exists(f.segment_path(Offset(0))));
}

TEST_CASE("ActiveSegmentRollsByAge", "[log]") {
  StoreFixture f;
  auto log = f.log(*LogConfig().with({{"segment.ms", "60000"}}));
  append(*log, make_batch(1, 1000));
  f.clock.advance_ms(59'000);
  append(*log, make_batch(1, 1000));
  CHECK(log->segment_count() == 1);
  f.clock.advance_ms(2'000);
  append(*log, make_batch(1, 1000));
  CHECK(log->segment_count() == 2);
  CHECK(f.env.exists(f.segment_path(Offset(2))));
}

TEST_CASE("OffsetForTimeFindsFirstRecordAtOrAfter", "[log]") {
  StoreFixture f;
  auto log = f.log(*LogConfig().with({{"segment.bytes", "8192"}}));
  // 200 batches of 5 records, timestamps 10000 + 10*i ...: record o has ts 10000 + 2*o
  for (int i = 0; i < 200; ++i) {
    RecordBatchBuilder builder;
    for (int j = 0; j < 5; ++j) {
      int64_t offset = i * 5 + j;
      builder.add(std::nullopt, std::string(100, 'v'), {}, 10'000 + 2 * offset);
    }
    append(*log, std::move(builder.build()).value());
  }
  CHECK(log->segment_count() > 5);
  for (int64_t ts : {0, 10'000, 10'001, 10'002, 10'500, 11'001, 11'998}) {
    auto found = log->offset_for_time(ts);
    REQUIRE(found.ok());
    REQUIRE(found->has_value());
    int64_t expected = ts <= 10'000 ? 0 : (ts - 10'000 + 1) / 2;
    CHECK(**found == Offset(expected));
  }
  auto none = log->offset_for_time(12'000);
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());
}

TEST_CASE("OffsetForTimeHandlesOutOfOrderTimestamps", "[log]") {
  StoreFixture f;
  auto log = f.log();
  RecordBatchBuilder builder;
  builder.add(std::nullopt, "a", {}, 500);
  builder.add(std::nullopt, "b", {}, 100);
  builder.add(std::nullopt, "c", {}, 700);
  append(*log, std::move(builder.build()).value());
  append(*log, make_batch(2, 300));
  CHECK(**log->offset_for_time(600) == Offset(2));
  CHECK(**log->offset_for_time(200) == Offset(0));
  CHECK(**log->offset_for_time(501) == Offset(2));
}

TEST_CASE("TruncateSuffixAtBatchBoundary", "[log]") {
  StoreFixture f;
  auto log = f.log(*LogConfig().with({{"segment.bytes", "4096"}}));
  for (int i = 0; i < 30; ++i) append(*log, make_batch(2, 1000 + i, "v", 400));
  size_t segments = log->segment_count();
  REQUIRE(segments > 3);

  SECTION("inside a batch is refused") {
    auto status = log->truncate_suffix(Offset(21));
    CHECK(status.code() == ErrorCode::invalid_request);
    CHECK(log->log_end() == Offset(60));
  }
  SECTION("at a boundary drops later segments and bytes") {
    REQUIRE(log->truncate_suffix(Offset(20)).ok());
    CHECK(log->log_end() == Offset(20));
    CHECK(log->segment_count() < segments);
    auto read = log->read(Offset(18), 1 << 20, Offset::max());
    REQUIRE(read.ok());
    CHECK(read->next_offset == Offset(20));
    CHECK(log->read(Offset(21), 1, Offset::max()).status().code() == ErrorCode::offset_out_of_range);
    // Appending continues from the cut, and survives reopening.
    auto again = append(*log, make_batch(1, 5000, "new"));
    CHECK(again.base_offset == Offset(20));
    REQUIRE(log->close().ok());
    f.reopen();
    auto reopened = f.log(*LogConfig().with({{"segment.bytes", "4096"}}));
    CHECK(reopened->log_end() == Offset(21));
    auto records = decode_all(reopened->read(Offset(20), 1 << 20, Offset::max())->bytes);
    REQUIRE(records.size() == 1);
    CHECK(records[0].value == "new-0");
  }
  SECTION("at the first offset empties the log") {
    REQUIRE(log->truncate_suffix(Offset(0)).ok());
    CHECK(log->log_end() == Offset(0));
    CHECK(log->segment_count() == 1);
    CHECK(append(*log, make_batch(1, 1)).base_offset == Offset(0));
  }
}

TEST_CASE("AdvanceStartHidesOlderRecordsAndDropsWholeSegments", "[log]") {
  StoreFixture f;
  // Synced only by the test: a group commit still queued from an append
  // could otherwise sync the append below that must stay unflushed.
  auto log = f.log(manual_flush_config({{"segment.bytes", "4096"}}));
  for (int i = 0; i < 30; ++i) append(*log, make_batch(2, 1000 + i, "v", 400));
  REQUIRE(log->flush_now().ok());
  size_t segments = log->segment_count();
  REQUIRE(log->advance_start(Offset(31)).ok());
  CHECK(log->log_start() == Offset(31));
  CHECK(log->segment_count() < segments);
  CHECK(log->read(Offset(30), 1, Offset::max()).status().code() == ErrorCode::offset_out_of_range);
  auto read = log->read(Offset(31), 1, Offset::max());
  REQUIRE(read.ok());
  CHECK(decode_all(read->bytes).back().offset == Offset(31));
  CHECK(log->advance_start(Offset(61)).code() == ErrorCode::offset_out_of_range);
  // Only flushed records may be deleted: a power loss must not take back
  // records below the start.
  append(*log, make_batch(2, 2000));
  CHECK(log->advance_start(Offset(61)).code() == ErrorCode::offset_out_of_range);
  REQUIRE(log->close().ok());
  f.reopen();
  CHECK(f.log()->log_start() == Offset(31));
}

TEST_CASE("SparseIndexHasAnEntryAboutEvery4KiB", "[log]") {
  StoreFixture f;
  auto log = f.log();
  std::string batch = make_batch(1, 1000, "v", 1000);  // ~1 KiB batches
  for (int i = 0; i < 400; ++i) append(*log, batch);
  REQUIRE(log->flush_now().ok());  // entries reach RocksDB with the group commit
  size_t entries = f.store->index().count_offset_entries(f.tp);
  size_t expected = log->size_bytes() / kIndexIntervalBytes;
  CHECK(entries >= expected * 8 / 10);
  CHECK(entries <= expected * 12 / 10 + 1);
}

TEST_CASE("LogConfigParsesKnownKeysAndRejectsOthers", "[config]") {
  auto config = LogConfig().with({{"retention.ms", "60000"}, {"flush.policy", "interval"}});
  REQUIRE(config.ok());
  CHECK(config->retention_ms == 60000);
  CHECK(config->flush_policy == FlushPolicy::interval);
  CHECK(config->to_map().at("retention.ms") == "60000");
  CHECK(LogConfig().with({{"retention.mss", "1"}}).status().code() == ErrorCode::invalid_config);
  CHECK(LogConfig().with({{"segment.bytes", "12x"}}).status().code() == ErrorCode::invalid_config);
  CHECK(LogConfig().with({{"segment.bytes", "10"}}).status().code() == ErrorCode::invalid_config);
  CHECK(LogConfig().with({{"flush.policy", "never"}}).status().code() == ErrorCode::invalid_config);
}
