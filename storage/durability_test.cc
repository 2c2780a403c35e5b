// "Flushed" means fsynced, under a power loss: only synced file bytes and
// synced folder entries survive (FaultInjectionEnv, CrashMode::power_loss),
// and the index loses its unsynced writes (StoreFixture::crash).

#include <catch2/catch.hpp>

#include <thread>

#include "storage/test_util.h"

using namespace cairn;
using namespace cairn::storage;
using namespace cairn::storage::testing;

namespace {

// Small segments so that a few appends roll.
LogConfig small_segments() { return manual_flush_config({{"segment.bytes", "1024"}}); }

std::string batch_of(const std::string& tag) { return make_batch(1, 1000, tag, 300); }

// The tags of batch_of() records, in offset order.
std::vector<std::string> tags_of(PartitionLog& log) {
  std::vector<std::string> tags;
  for (const auto& value : values_of(log)) tags.push_back(value.substr(0, value.find('x')));
  return tags;
}

}  // namespace

TEST_CASE("SegmentRolledDuringASyncIsSyncedBeforeItsRecordsAreFlushed", "[durability]") {
  StoreFixture f(kModelPowerLoss);
  std::vector<std::string> acknowledged;
  {
    auto log = f.log(small_segments());
    append(*log, batch_of("a"));
    // A group commit syncs the active segment while an append lands in it
    // and then rolls it.
    f.env.hold_next_sync();
    Status first_flush;  // checked on the test thread: Catch2 is not thread-safe
    std::thread flusher([&] { first_flush = log->flush_now(); });
    f.env.wait_for_held_sync();
    append(*log, batch_of("b"));  // after the sync's image: not covered
    for (int i = 0; i < 4; ++i) append(*log, batch_of("c" + std::to_string(i)));  // rolls
    REQUIRE(log->segment_count() > 1);
    f.env.release_held_sync();
    flusher.join();
    REQUIRE(first_flush.ok());
    // The next group commit must cover "b" in the rolled segment too.
    REQUIRE(log->flush_now().ok());
    REQUIRE(log->flushed() == log->log_end());
    acknowledged = values_of(*log);
  }
  f.crash(CrashMode::power_loss);
  auto log = f.log(small_segments());
  CHECK(log->recovery_report().lost.empty());
  CHECK(values_of(*log) == acknowledged);
}

TEST_CASE("RecoverySyncsClosedSegmentsBeforeCallingThemFlushed", "[durability]") {
  // kill -9 leaves rolled segments in the page cache only; the restarted
  // broker acknowledges more; then the power fails.
  StoreFixture f(kModelPowerLoss);
  {
    auto log = f.log(small_segments());
    for (int i = 0; i < 8; ++i) append(*log, batch_of("before" + std::to_string(i)));
    REQUIRE(log->segment_count() > 2);
  }
  f.crash(CrashMode::process);
  std::vector<std::string> acknowledged;
  {
    auto log = f.log(small_segments());
    REQUIRE(log->flushed() == Offset(8));  // recovery vouches for all eight
    append(*log, batch_of("after"));
    REQUIRE(log->flush_now().ok());
    acknowledged = values_of(*log);
  }
  f.crash(CrashMode::power_loss);
  auto log = f.log(small_segments());
  CHECK(log->recovery_report().lost.empty());
  CHECK(values_of(*log) == acknowledged);
}

TEST_CASE("NewSegmentNamesSurviveAPowerLossOnceFlushed", "[durability]") {
  StoreFixture f(kModelPowerLoss);
  std::vector<std::string> acknowledged;
  {
    auto log = f.log(small_segments());
    for (int i = 0; i < 12; ++i) append(*log, batch_of("v" + std::to_string(i)));
    REQUIRE(log->flush_now().ok());
    acknowledged = values_of(*log);
  }
  f.crash(CrashMode::power_loss);
  auto log = f.log(small_segments());
  CHECK(values_of(*log) == acknowledged);
}

TEST_CASE("PowerLossKeepsOnlyTheSyncedPrefix", "[durability]") {
  StoreFixture f(kModelPowerLoss);
  {
    auto log = f.log(small_segments());
    for (int i = 0; i < 3; ++i) append(*log, batch_of("kept" + std::to_string(i)));
    REQUIRE(log->flush_now().ok());
    for (int i = 0; i < 6; ++i) append(*log, batch_of("lost" + std::to_string(i)));
  }
  f.crash(CrashMode::power_loss);
  auto log = f.log(small_segments());
  CHECK(tags_of(*log) == std::vector<std::string>{"kept0-0", "kept1-0", "kept2-0"});
}

TEST_CASE("PowerLossAmidZerosWrittenAheadKeepsTheSyncedPrefix", "[durability]") {
  // Appends after the last sync land over zeros a sync made durable; a power
  // loss leaves any prefix of them, then those zeros.
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    CAPTURE(seed);
    StoreFixture f(kModelPowerLoss);
    {
      auto log = f.log(manual_flush_config());
      for (int i = 0; i < 3; ++i) append(*log, batch_of("kept" + std::to_string(i)));
      REQUIRE(log->flush_now().ok());
      for (int i = 0; i < 6; ++i) append(*log, batch_of("maybe" + std::to_string(i)));
    }
    std::mt19937_64 rng(seed);
    f.crash(CrashMode::power_loss, &rng);
    auto log = f.log(manual_flush_config());
    CHECK(log->recovery_report().lost.empty());
    std::vector<std::string> expected{"kept0-0", "kept1-0", "kept2-0"};
    std::vector<std::string> tags = tags_of(*log);
    REQUIRE(tags.size() >= expected.size());
    for (size_t i = expected.size(); i < tags.size(); ++i) expected.push_back("maybe" + std::to_string(i - 3) + "-0");
    CHECK(tags == expected);
    // The log goes on where the surviving batches end.
    Offset end = log->log_end();
    CHECK(append(*log, batch_of("after")).base_offset == end);
    CHECK(tags_of(*log).back() == "after-0");
  }
}

TEST_CASE("LostDurableRecordsAreReportedAndLaterSegmentsKept", "[durability]") {
  // A disk that loses acknowledged bytes of a closed segment: recovery names
  // the lost offsets and keeps the intact segments after them.
  StoreFixture f;
  {
    auto log = f.log(small_segments());
    for (int i = 0; i < 12; ++i) append(*log, batch_of("v" + std::to_string(i)));
    REQUIRE(log->flush_now().ok());
    REQUIRE(log->segment_count() >= 3);
  }
  f.store.reset();
  std::string* first = f.env.contents(f.segment_path(Offset(0)));
  REQUIRE(first != nullptr);
  size_t batch_bytes = batch_of("v0").size();
  const int64_t first_end = static_cast<int64_t>(first->size() / batch_bytes);
  REQUIRE(first_end >= 2);
  first->resize(batch_bytes);  // keeps offset 0 only
  f.reopen();
  auto log = f.log(small_segments());
  const auto& lost = log->recovery_report().lost;
  REQUIRE(lost.size() == 1);
  CHECK(lost[0] == std::pair(Offset(1), Offset(first_end)));
  CHECK(log->log_end() == Offset(12));
  std::vector<std::string> expected{"v0-0"};
  for (int64_t i = first_end; i < 12; ++i) expected.push_back("v" + std::to_string(i) + "-0");
  CHECK(tags_of(*log) == expected);
}
