// PartitionLog::reset: a replica too far behind drops its log and restarts
// it empty after its leader's base (Raft's jump forward). Durable when it
// returns; a crash at any point leaves the old log or the restarted one.

#include <catch2/catch.hpp>

#include "storage/log_bounds_file.h"
#include "storage/test_util.h"

using namespace cairn;
using namespace cairn::storage;
using namespace cairn::storage::testing;

namespace {

// Appends `batches` batches of 5 records in `term`.
void fill(PartitionLog& log, Term term, int batches) {
  for (int i = 0; i < batches; ++i) append(log, make_batch(5, 1000, "old"), term);
}

// Checks the log is empty at `start` after a base of `term`, then appends
// one batch there and checks it lands at `start`.
void expect_restarted_at(PartitionLog& log, Offset start, Term term) {
  CHECK(log.log_start() == start);
  CHECK(log.log_end() == start);
  CHECK(log.flushed() == start);
  CHECK(log.term_at(start - 1) == term);
  CHECK(log.last_term() == term);
  CHECK_FALSE(log.term_at(start));
  auto lower = log.append(as_bytes(make_batch(1, 2000)), Term(term.value - 1));
  CHECK(lower.status().code() == ErrorCode::invalid_request);
  CHECK(append(log, make_batch(2, 2000, "new"), term).base_offset == start);
  CHECK(values_of(log) == std::vector<std::string>{"new-0", "new-1"});
  CHECK(log.term_at(start) == term);
}

}  // namespace

TEST_CASE("ResetRestartsTheLogEmptyAfterABaseItNeverHeld", "[reset]") {
  StoreFixture f(kModelPowerLoss);
  LogConfig config = manual_flush_config({{"segment.bytes", "1024"}});
  {
    auto log = f.log(config);
    fill(*log, Term(1), 10);
    fill(*log, Term(2), 10);
    REQUIRE(log->segment_count() > 2);
    REQUIRE(log->reset(Offset(500), Term(4)).ok());
    CHECK(log->segment_count() == 1);
    CHECK(log->read(Offset(499), 1 << 20, Offset::max()).status().code() ==
          ErrorCode::offset_out_of_range);
    expect_restarted_at(*log, Offset(500), Term(4));
    REQUIRE(log->flush_now().ok());
  }
  // Durable: a power loss right after brings back neither the old records
  // nor the old start.
  f.crash(CrashMode::power_loss);
  auto log = f.log(config);
  CHECK(log->log_start() == Offset(500));
  CHECK(log->term_at(Offset(499)) == Term(4));
  CHECK(values_of(*log) == std::vector<std::string>{"new-0", "new-1"});
}

TEST_CASE("ResetBelowTheLogEndDropsTheTailToo", "[reset]") {
  StoreFixture f(kModelPowerLoss);
  LogConfig config = manual_flush_config({{"segment.bytes", "1024"}});
  {
    auto log = f.log(config);
    fill(*log, Term(1), 20);  // offsets [0, 100), several segments
    REQUIRE(log->flush_now().ok());
    // Restarting inside the log: offsets at and past 40 were a diverged tail.
    REQUIRE(log->reset(Offset(40), Term(3)).ok());
  }
  f.crash(CrashMode::power_loss);
  auto log = f.log(config);
  expect_restarted_at(*log, Offset(40), Term(3));
}

TEST_CASE("ResetFailsTheFlushWaitersItStrands", "[reset]") {
  StoreFixture f;
  auto log = f.log(manual_flush_config());
  fill(*log, Term(1), 2);
  std::optional<Status> outcome;
  log->when_flushed(Offset(10), [&](Status s) { outcome = s; });
  REQUIRE(log->reset(Offset(50), Term(1)).ok());
  REQUIRE(outcome.has_value());
  CHECK(outcome->code() == ErrorCode::offset_out_of_range);
}

TEST_CASE("ResetRefusesAStartBelowTheLog", "[reset]") {
  StoreFixture f;
  auto log = f.log(manual_flush_config());
  fill(*log, Term(5), 4);
  REQUIRE(log->flush_now().ok());
  REQUIRE(log->advance_start(Offset(10)).ok());
  CHECK(log->reset(Offset(5), Term(5)).code() == ErrorCode::invalid_request);
  CHECK(log->log_end() == Offset(20));
  CHECK(log->log_start() == Offset(10));
}

TEST_CASE("ResetMayGoBelowTheTermsOfTheTailItDrops", "[reset]") {
  // A deposed leader wrote uncommitted term-4 records past the base its new
  // leader (term 5) sends, which committed in term 3: the reset must take it,
  // or the replica's group stops for good.
  StoreFixture f(kModelPowerLoss);
  LogConfig config = manual_flush_config({{"segment.bytes", "1024"}});
  {
    auto log = f.log(config);
    fill(*log, Term(3), 6);
    fill(*log, Term(4), 20);  // past several segment boundaries
    REQUIRE(log->flush_now().ok());
    REQUIRE(log->reset(Offset(60), Term(3)).ok());
    expect_restarted_at(*log, Offset(60), Term(3));
  }
  f.crash(CrashMode::power_loss);
  auto log = f.log(config);
  CHECK(log->log_start() == Offset(60));
  CHECK(log->term_at(Offset(59)) == Term(3));
}

TEST_CASE("RecoveryFinishesAResetACrashInterrupted", "[reset]") {
  // The crash came right after the commit point: the bounds file says the
  // log restarted at 500, but the old segments and index are all still there.
  StoreFixture f(kModelPowerLoss);
  LogConfig config = manual_flush_config({{"segment.bytes", "1024"}});
  std::string dir;
  {
    auto log = f.log(config);
    fill(*log, Term(1), 30);  // offsets [0, 150), several segments
    REQUIRE(log->flush_now().ok());
    dir = log->dir();
  }
  f.crash(CrashMode::process);
  REQUIRE(write_log_bounds(f.env, dir, LogBounds{Offset(500), Offset(500), Term(7)}).ok());
  f.crash(CrashMode::power_loss);
  {
    auto log = f.log(config);
    CHECK(log->segment_count() == 1);
    expect_restarted_at(*log, Offset(500), Term(7));
    REQUIRE(log->flush_now().ok());
  }
  // Finished for good: the mark is gone, and the records written after the
  // restart survive the next recovery.
  f.crash(CrashMode::power_loss);
  auto bounds = read_log_bounds(f.env, dir);
  REQUIRE(bounds.ok());
  REQUIRE(bounds->has_value());
  CHECK_FALSE((*bounds)->restart_term);
  auto log = f.log(config);
  CHECK(log->log_start() == Offset(500));
  CHECK(log->term_at(Offset(499)) == Term(7));
  CHECK(values_of(*log) == std::vector<std::string>{"new-0", "new-1"});
}

TEST_CASE("RecoveryKeepsWhatWasWrittenAfterAFinishedReset", "[reset]") {
  StoreFixture f(kModelPowerLoss);
  LogConfig config = manual_flush_config({{"segment.bytes", "1024"}});
  {
    auto log = f.log(config);
    fill(*log, Term(1), 30);
    REQUIRE(log->flush_now().ok());
    REQUIRE(log->reset(Offset(60), Term(2)).ok());
    fill(*log, Term(2), 30);  // past a roll: several segments after the restart
    REQUIRE(log->flush_now().ok());
    CHECK(log->segment_count() > 2);
  }
  f.crash(CrashMode::power_loss);
  auto log = f.log(config);
  CHECK(log->log_start() == Offset(60));
  CHECK(log->log_end() == Offset(210));
  CHECK(log->term_at(Offset(59)) == Term(2));
  CHECK(log->term_at(Offset(209)) == Term(2));
  CHECK(values_of(*log).size() == 150);
}
