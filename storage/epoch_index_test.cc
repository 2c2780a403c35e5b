// The epoch index: which term each offset was appended in, without reading
// a segment (what Raft's log asks of storage).

#include <catch2/catch.hpp>

#include <filesystem>

#include "storage/test_util.h"

using namespace cairn;
using namespace cairn::storage;
using namespace cairn::storage::testing;

namespace {

// Appends one batch of `records` records in `term`.
void append_in(PartitionLog& log, Term term, int records = 2) {
  append(log, make_batch(records, 1000), term);
}

// The terms of offsets [from, to).
std::vector<std::optional<Term>> terms(const PartitionLog& log, int64_t from, int64_t to) {
  std::vector<std::optional<Term>> out;
  for (int64_t o = from; o < to; ++o) out.push_back(log.term_at(Offset(o)));
  return out;
}

using T = std::optional<Term>;

}  // namespace

TEST_CASE("TermAtFollowsTheTermsBatchesWereAppendedIn", "[epochs]") {
  StoreFixture f;
  auto log = f.log();
  CHECK_FALSE(log->last_term());
  append_in(*log, Term(1));
  append_in(*log, Term(1));
  append_in(*log, Term(3));
  append_in(*log, Term(7));
  CHECK(terms(*log, 0, 8) ==
        std::vector<T>{Term(1), Term(1), Term(1), Term(1), Term(3), Term(3), Term(7), Term(7)});
  CHECK(log->last_term() == Term(7));
  CHECK_FALSE(log->term_at(Offset(8)));
  CHECK_FALSE(log->term_at(Offset(-1)));

  // Terms never decrease along the log.
  auto lower = log->append(as_bytes(make_batch(1, 1000)), Term(6));
  CHECK(lower.status().code() == ErrorCode::invalid_request);
  CHECK(log->log_end() == Offset(8));
}

TEST_CASE("TruncationDropsTheTermsItRemoves", "[epochs]") {
  StoreFixture f;
  auto log = f.log();
  append_in(*log, Term(1));
  append_in(*log, Term(2));
  append_in(*log, Term(4));
  REQUIRE(log->truncate_suffix(Offset(2)).ok());
  CHECK(log->last_term() == Term(1));
  // A new leader's term may be lower than the removed ones.
  append_in(*log, Term(3));
  CHECK(terms(*log, 0, 4) == std::vector<T>{Term(1), Term(1), Term(3), Term(3)});
}

TEST_CASE("AnAdvancedStartKeepsTheTermOfTheBase", "[epochs]") {
  StoreFixture f;
  auto log = f.log(*LogConfig().with({{"segment.bytes", "1024"}}));
  for (int term = 1; term <= 6; ++term) append_in(*log, Term(term), 10);
  REQUIRE(log->flush_now().ok());
  REQUIRE(log->advance_start(Offset(35)).ok());
  CHECK_FALSE(log->term_at(Offset(33)));
  CHECK(log->term_at(Offset(34)) == Term(4));  // the base: log start - 1
  CHECK(log->term_at(Offset(35)) == Term(4));
  CHECK(log->term_at(Offset(59)) == Term(6));
  REQUIRE(log->advance_start(Offset(40)).ok());
  CHECK(log->term_at(Offset(39)) == Term(4));
  CHECK(log->term_at(Offset(40)) == Term(5));
}

TEST_CASE("TermsSurviveRestartsCrashesAndALostIndex", "[epochs]") {
  StoreFixture f(kModelPowerLoss);
  LogConfig config = manual_flush_config({{"segment.bytes", "1024"}});
  const std::vector<T> expected{Term(1), Term(1), Term(1), Term(1), Term(2), Term(2),
                                Term(2), Term(2), Term(5), Term(5), Term(5), Term(5)};
  {
    auto log = f.log(config);
    append_in(*log, Term(1), 4);
    append_in(*log, Term(2), 4);
    append_in(*log, Term(5), 4);
    REQUIRE(log->flush_now().ok());
    append_in(*log, Term(9), 4);  // never synced
  }
  // A power loss takes the unsynced term-9 batch and its epoch entry.
  f.crash(CrashMode::power_loss);
  {
    auto log = f.log(config);
    CHECK(log->log_end() == Offset(12));
    CHECK(terms(*log, 0, 12) == expected);
    CHECK(log->last_term() == Term(5));
    append_in(*log, Term(6), 1);
  }
  // A process crash loses nothing.
  f.crash(CrashMode::process);
  {
    auto log = f.log(config);
    CHECK(terms(*log, 0, 12) == expected);
    CHECK(log->term_at(Offset(12)) == Term(6));
    REQUIRE(log->close().ok());
  }
  f.store.reset();
  std::filesystem::remove_all(f.index_dir());
  f.reopen();
  auto log = f.log(config);
  CHECK(terms(*log, 0, 12) == expected);
  CHECK(log->term_at(Offset(12)) == Term(6));
}
