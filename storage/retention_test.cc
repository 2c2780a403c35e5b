#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "storage/test_util.h"

using namespace cairn;
using namespace cairn::storage;
using namespace cairn::storage::testing;

namespace {

constexpr int64_t kHourMs = 3600 * 1000;

// Appends `count` one-record batches of ~500 bytes stamped with the clock.
void append_now(StoreFixture& f, PartitionLog& log, int count) {
  for (int i = 0; i < count; ++i) append(log, make_batch(1, f.clock.now_ms(), "v", 500));
}

}  // namespace

TEST_CASE("RetentionByTimeDeletesOldClosedSegments", "[retention]") {
  StoreFixture f;
  auto log = f.log(*LogConfig().with({{"segment.bytes", "16384"}, {"retention.ms", "86400000"}}));
  append_now(f, *log, 60);  // old
  f.clock.advance_ms(12 * kHourMs);
  REQUIRE(log->roll().ok());
  Offset young_start = log->log_end();
  append_now(f, *log, 60);  // young
  size_t segments = log->segment_count();
  size_t entries = f.store->index().count_offset_entries(f.tp);

  CHECK(f.store->run_retention() == 0);
  f.clock.advance_ms(13 * kHourMs);  // old data is now 25 h old, young 13 h
  size_t deleted = f.store->run_retention();
  CHECK(deleted > 0);
  CHECK(log->segment_count() == segments - deleted);
  CHECK(log->log_start() == young_start);
  CHECK(f.store->index().count_offset_entries(f.tp) < entries);
  CHECK_FALSE(f.env.exists(f.segment_path(Offset(0))));

  auto below = log->read(Offset(0), 1024, Offset::max());
  CHECK(below.status().code() == ErrorCode::offset_out_of_range);
  auto from_start = log->read(log->log_start(), 1024, Offset::max());
  REQUIRE(from_start.ok());
  CHECK(decode_all(from_start->bytes).front().offset == young_start);

  // Everything expires, yet the active segment stays and appends go on.
  f.clock.advance_ms(48 * kHourMs);
  f.store->run_retention();
  CHECK(log->segment_count() == 1);
  CHECK(append(*log, make_batch(1, f.clock.now_ms())).base_offset == Offset(120));

  // The advanced start survives a restart.
  REQUIRE(f.store->close().ok());
  f.reopen();
  CHECK(f.log()->log_start() == log->log_start());
}

TEST_CASE("RetentionBySizeKeepsTheNewestBytes", "[retention]") {
  StoreFixture f;
  auto log = f.log(*LogConfig().with({{"segment.bytes", "4096"}, {"retention.bytes", "10000"}}));
  append_now(f, *log, 100);
  uint64_t before = log->size_bytes();
  REQUIRE(before > 40000);
  CHECK(f.store->run_retention() > 0);
  CHECK(log->size_bytes() >= 10000);
  CHECK(log->size_bytes() < 10000 + 4096);
  CHECK(log->log_start() > Offset(0));
  CHECK(log->log_end() == Offset(100));
}

TEST_CASE("RetentionDisabledKeepsEverything", "[retention]") {
  StoreFixture f;
  auto log = f.log(*LogConfig().with({{"segment.bytes", "4096"}, {"retention.ms", "-1"}}));
  append_now(f, *log, 40);
  f.clock.advance_ms(1000 * 24 * kHourMs);
  CHECK(f.store->run_retention() == 0);
  CHECK(log->log_start() == Offset(0));
}

TEST_CASE("AppendsContinueWhileRetentionRuns", "[retention]") {
  StoreFixture f;
  auto log = f.log(*LogConfig().with({{"segment.bytes", "4096"}, {"retention.bytes", "8192"}}));
  std::atomic<bool> done{false};
  std::thread retention([&] {
    while (!done) f.store->run_retention();
  });
  for (int i = 0; i < 2000; ++i) append(*log, make_batch(1, 1000, "v", 300));
  done = true;
  retention.join();
  f.store->run_retention();
  CHECK(log->log_end() == Offset(2000));
  CHECK(log->size_bytes() < 8192 + 4096);
  auto read = log->read(log->log_start(), 1 << 20, Offset::max());
  REQUIRE(read.ok());
  CHECK_FALSE(read->bytes.empty());
}
