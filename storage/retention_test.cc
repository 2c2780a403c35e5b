#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <random>
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

TEST_CASE("ReadersRacingRetentionGetTheirDataOrOffsetOutOfRange", "[retention]") {
  // Real files: a deleted segment must stay readable through the handle a
  // reader already holds, and no read may see a reused descriptor.
  TempDir dir;
  ManualClock clock;
  StoreOptions options;
  options.data_dir = dir.path();
  options.clock = &clock;
  options.retention_check_interval_ms = 0;
  auto store = std::move(Store::open(options)).value();
  auto log = std::move(store->open_partition(
                           {"raced", 0}, *LogConfig().with({{"segment.bytes", "4096"},
                                                            {"retention.bytes", "8192"}})))
                 .value();
  auto value_at = [](int64_t offset) {
    std::string value = "v" + std::to_string(offset);
    value.resize(300, '.');
    return value;
  };
  constexpr int kRecords = 3000;
  std::atomic<bool> done{false};
  std::atomic<int64_t> reads{0}, out_of_range{0};
  std::mutex mutex;
  std::vector<std::string> failures;  // asserted on this thread
  auto fail = [&](std::string what) {
    std::lock_guard lock(mutex);
    failures.push_back(std::move(what));
  };
  auto reader = [&](uint64_t seed) {
    std::mt19937_64 rng(seed);
    while (!done) {
      int64_t start = log->log_start().value;
      int64_t end = log->log_end().value;
      if (end == 0) continue;
      int64_t from = std::max<int64_t>(0, start - 5) +
                     static_cast<int64_t>(rng() % static_cast<uint64_t>(end - start + 5));
      auto read = log->read(Offset(from), 16 * 1024, Offset::max());
      if (!read.ok()) {
        if (read.status().code() == ErrorCode::offset_out_of_range) {
          ++out_of_range;
        } else {
          fail(read.status().to_string());
        }
        continue;
      }
      ++reads;
      try {
        for (const Record& r : decode_all(read->bytes)) {
          if (r.value != value_at(r.offset.value)) {
            fail("wrong bytes at offset " + std::to_string(r.offset.value));
          }
        }
      } catch (const std::exception& e) {
        fail("read at " + std::to_string(from) + " did not decode: " + e.what());
      }
    }
  };
  std::thread retention([&] {
    while (!done) store->run_retention();
  });
  std::thread reader_a(reader, 1), reader_b(reader, 2);
  for (int64_t offset = 0; offset < kRecords; ++offset) {
    RecordBatchBuilder builder;
    builder.add(std::nullopt, value_at(offset), {}, clock.now_ms());
    auto appended = log->append(as_bytes(builder.build().value()), Term(1));
    REQUIRE(appended.ok());
  }
  done = true;
  retention.join();
  reader_a.join();
  reader_b.join();
  INFO((failures.empty() ? std::string("no failures") : failures.front()));
  CHECK(failures.empty());
  CHECK(reads > 0);
  CHECK(log->log_start() > Offset(0));  // retention did delete under the readers
  log.reset();
  REQUIRE(store->close().ok());
}

TEST_CASE("RetentionAndDeleteRecordsStopAtTheDeleteLimit", "[retention]") {
  // A Raft replica's uncommitted tail may still be truncated: nothing from
  // the committed offset on may go, however old or large.
  StoreFixture f;
  auto log = f.log(*LogConfig().with({{"segment.bytes", "4096"}, {"retention.bytes", "1"}}));
  append_now(f, *log, 40);
  REQUIRE(log->flush_now().ok());
  REQUIRE(log->segment_count() > 3);
  auto committed = log->batch_header_at(Offset(20));
  REQUIRE(committed.ok());
  Offset limit = committed->base_offset;
  log->set_delete_limit(limit);
  f.store->run_retention();
  CHECK(log->log_start() <= limit);
  CHECK(log->log_start() > Offset(0));  // segments wholly below the limit did go
  CHECK(log->advance_start(limit + 1).code() == ErrorCode::offset_out_of_range);
  REQUIRE(log->advance_start(limit).ok());

  log->set_delete_limit(log->log_end());
  f.store->run_retention();
  CHECK(log->log_start() > limit);
}

TEST_CASE("MovesOfTheStartWaitForTheOwnersStep", "[retention]") {
  // A Raft replica reads the log start and the entries past it under its
  // own lock: retention and advance_start must not move the start inside.
  StoreFixture f;
  auto log = f.log(*LogConfig().with({{"segment.bytes", "16384"}, {"retention.ms", "86400000"}}));
  append_now(f, *log, 60);
  f.clock.advance_ms(25 * kHourMs);
  REQUIRE(log->roll().ok());
  append_now(f, *log, 5);
  REQUIRE(log->flush_now().ok());
  std::mutex owner;
  log->set_owner_guard([&owner] {
    owner.lock();
    return std::shared_ptr<void>(nullptr, [&owner](void*) { owner.unlock(); });
  });
  Offset end = log->log_end();
  owner.lock();  // inside one of the owner's steps
  std::atomic<bool> retained{false};
  std::atomic<bool> advanced{false};
  std::thread retention([&] {
    (void)f.store->run_retention();
    retained = true;
  });
  std::thread snapshot([&] {
    (void)log->advance_start(end);
    advanced = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK_FALSE(retained);
  CHECK_FALSE(advanced);
  CHECK(log->log_start() == Offset(0));
  owner.unlock();
  retention.join();
  snapshot.join();
  CHECK(log->log_start() == end);
}
