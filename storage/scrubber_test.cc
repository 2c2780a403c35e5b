#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "storage/scrubber.h"
#include "storage/test_util.h"

using namespace cairn;
using namespace cairn::storage;
using namespace cairn::storage::testing;

namespace {

// 40 batches of 10 records of ~100 bytes over segments of 4 KiB, all synced.
std::shared_ptr<PartitionLog> filled_log(StoreFixture& f) {
  auto log = f.log(manual_flush_config({{"segment.bytes", "4096"}}));
  for (int i = 0; i < 40; ++i) append(*log, make_batch(10, 1000 + i, "b" + std::to_string(i), 100));
  REQUIRE(log->flush_now().ok());
  REQUIRE(log->segment_count() > 3);
  return log;
}

Scrubber scrubber_of(const std::shared_ptr<PartitionLog>& log, int64_t bytes_per_second = 0) {
  return Scrubber([log] { return std::vector<std::shared_ptr<PartitionLog>>{log}; },
                  ScrubOptions{.bytes_per_second = bytes_per_second, .interval_ms = 60'000});
}

}  // namespace

TEST_CASE("AScrubVerifiesEveryDurableByteOfAnUndamagedLog", "[scrub]") {
  StoreFixture f;
  auto log = filled_log(f);
  std::atomic<int> damage_reports = 0;
  log->set_damage_listener([&](Offset) { ++damage_reports; });
  // Not durable yet: left for the next pass.
  append(*log, make_batch(10, 5000, "tail", 100));
  auto scrubber = scrubber_of(log);
  scrubber.run_pass();
  auto stats = scrubber.stats();
  CHECK(stats.passes == 1);
  CHECK(stats.damage_found == 0);
  CHECK(damage_reports == 0);
  REQUIRE(log->flush_now().ok());
  scrubber.run_pass();
  CHECK(scrubber.stats().bytes == stats.bytes + log->size_bytes());
}

TEST_CASE("AScrubFindsAFlippedByteInAnOldSegmentThatNothingReads", "[scrub]") {
  StoreFixture f;
  auto log = filled_log(f);
  std::atomic<int64_t> reported = -1;
  log->set_damage_listener([&](Offset from) { reported = from.value; });
  // A byte 50 bytes before the end of the first segment, in its last batch
  // (bit rot under old data).
  REQUIRE(f.env.flip_byte(f.segment_path(Offset(0)), 50));
  auto scrubber = scrubber_of(log);
  scrubber.run_pass();
  CHECK(scrubber.stats().damage_found == 1);
  REQUIRE(reported >= 0);
  // Reported at the damaged batch's start, at or before the flipped byte:
  // a repair cuts the log there and fetches everything after it again.
  auto damaged = log->batch_header_at(Offset(reported.load()));
  REQUIRE(damaged.ok());
  CHECK(damaged->base_offset == Offset(reported.load()));
  // Exactly the damaged batch: what comes before and after it reads well.
  CHECK(reported > 0);
  auto before = log->read(Offset(0), 1 << 20, Offset(reported.load()));
  REQUIRE(before.ok());
  CHECK(before->next_offset == Offset(reported.load()));
  CHECK(log->read(damaged->next_offset(), 1 << 20, Offset::max()).ok());
  auto read = log->read(Offset(reported.load()), 1 << 20, Offset::max());
  CHECK(read.status().code() == ErrorCode::storage_corrupt);
}

TEST_CASE("AScrubKeepsToItsRateAndStopsAtOnce", "[scrub]") {
  StoreFixture f;
  auto log = filled_log(f);
  uint64_t size = log->size_bytes();
  {
    // A whole pass at a rate that takes half a second for the log's bytes.
    auto scrubber = scrubber_of(log, static_cast<int64_t>(size * 2));
    auto began = std::chrono::steady_clock::now();
    scrubber.run_pass();
    CHECK(std::chrono::steady_clock::now() - began >= std::chrono::milliseconds(450));
  }
  // A thread at a rate that would take 100 s stops when told, mid-pass.
  auto slow = std::make_unique<Scrubber>(
      [log] { return std::vector<std::shared_ptr<PartitionLog>>{log}; },
      ScrubOptions{.bytes_per_second = static_cast<int64_t>(size / 100), .interval_ms = 60'000});
  slow->start();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto stopping = std::chrono::steady_clock::now();
  slow.reset();
  CHECK(std::chrono::steady_clock::now() - stopping < std::chrono::seconds(2));
}

TEST_CASE("AScrubStopsWhereARaftGroupMayStillTruncate", "[scrub]") {
  StoreFixture f;
  auto log = filled_log(f);
  // Committed up to 200 of 400: the rest is durable but may still be cut
  // away under a read, which would look like damage.
  log->set_delete_limit(Offset(200));
  CHECK(log->stable_end() == Offset(200));
  auto scrubber = scrubber_of(log);
  scrubber.run_pass();
  uint64_t committed_bytes = 0;
  for (Offset next(0); next < Offset(200);) {
    auto read = log->read(next, 1 << 20, Offset(200));
    REQUIRE(read.ok());
    committed_bytes += read->bytes.size();
    next = read->next_offset;
  }
  CHECK(scrubber.stats().bytes == committed_bytes);
  CHECK(scrubber.stats().bytes < log->size_bytes());
}

TEST_CASE("ALogOpenedAfterTheStoreStartedIsVerifiedSoonNotAtTheNextPass", "[scrub]") {
  StoreFixture f;
  filled_log(f).reset();
  // Bit rot in old data while the broker was down: recovery does not read it.
  REQUIRE(f.env.flip_byte(f.segment_path(Offset(0)), 50));
  f.scrub = ScrubOptions{.bytes_per_second = 64 << 20, .interval_ms = 24LL * 3600 * 1000};
  f.reopen();
  // The store's first pass is over before the broker opens its partitions.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (f.store->scrub_stats().passes < 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  REQUIRE(f.store->scrub_stats().passes == 1);
  auto log = f.log(manual_flush_config({{"segment.bytes", "4096"}}));
  f.store->verify_soon(log);  // as the broker does once it serves the log
  while (f.store->scrub_stats().damage_found < 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  CHECK(f.store->scrub_stats().damage_found == 1);
  CHECK(f.store->scrub_stats().passes == 1);  // the next pass is a day away
}

TEST_CASE("AReplicaJustRestartedHasWhatItKnewCommittedScrubbed", "[scrub]") {
  StoreFixture f;
  {
    auto log = filled_log(f);
    log->set_delete_limit(Offset(200));  // committed up to there
    append(*log, make_batch(10, 9000, "more", 100));
    REQUIRE(log->flush_now().ok());  // the index saves the limit as the checkpoint
  }
  f.reopen();
  auto log = f.log(manual_flush_config({{"segment.bytes", "4096"}}));
  REQUIRE(log->committed_checkpoint() == Offset(200));
  // A replica that starts knows nothing committed until its first settle;
  // what was committed before is stable all the same.
  log->set_delete_limit(log->log_start());
  CHECK(log->stable_end() == Offset(200));
  auto scrubber = scrubber_of(log);
  scrubber.run_pass();
  CHECK(scrubber.stats().bytes > 0);
}
