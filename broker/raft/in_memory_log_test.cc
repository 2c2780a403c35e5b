#include <catch2/catch.hpp>

#include "broker/raft/in_memory_log.h"

namespace cairn::raft {
namespace {

Entry entry(int64_t term, int64_t first, int64_t last, std::string payload = "x") {
  return Entry{Term(term), Offset(first), Offset(last), EntryType::data, std::move(payload)};
}

TEST_CASE("raft.EmptyLogHasBaseMinusOne", "[raft][log]") {
  InMemoryLog log;
  CHECK(log.first_index() == Offset(0));
  CHECK(log.last_index() == Offset(-1));
  CHECK(log.last_term() == Term(0));
  CHECK(log.term_at(Offset(-1)) == Term(0));
  CHECK_FALSE(log.term_at(Offset(0)).has_value());
}

TEST_CASE("raft.EntryBoundsCoverWholeBatches", "[raft][log]") {
  InMemoryLog log;
  REQUIRE(log.append({entry(1, 0, 4), entry(2, 5, 5)}).ok());
  auto bounds = log.entry_bounds(Offset(3));
  REQUIRE(bounds.has_value());
  CHECK(bounds->first == Offset(0));
  CHECK(bounds->last == Offset(4));
  CHECK(log.term_at(Offset(5)) == Term(2));
}

TEST_CASE("raft.CrashLosesTheUnflushedTail", "[raft][log]") {
  InMemoryLog log;
  REQUIRE(log.append({entry(1, 0, 1), entry(1, 2, 4), entry(1, 5, 5)}).ok());
  CHECK(log.flush_to(Offset(3)));  // rounds down to the end of [0..1]
  CHECK(log.flushed_index() == Offset(1));
  log.crash();
  CHECK(log.last_index() == Offset(1));
}

TEST_CASE("raft.TruncationLowersTheFlushedIndex", "[raft][log]") {
  InMemoryLog log;
  REQUIRE(log.append({entry(1, 0, 1), entry(1, 2, 4)}).ok());
  log.flush_to(Offset(4));
  REQUIRE(log.truncate_suffix(Offset(2)).ok());
  CHECK(log.last_index() == Offset(1));
  CHECK(log.flushed_index() == Offset(1));
}

TEST_CASE("raft.ReadStopsAtTheByteLimitButReturnsOneEntry", "[raft][log]") {
  InMemoryLog log;
  REQUIRE(log.append({entry(1, 0, 0, "aaaa"), entry(1, 1, 1, "bbbb"), entry(1, 2, 2, "cc")}).ok());
  auto one = log.read(Offset(0), 1, 10);
  REQUIRE(one.ok());
  CHECK(one->size() == 1);
  auto two = log.read(Offset(0), 8, 10);
  REQUIRE(two.ok());
  CHECK(two->size() == 2);
  CHECK(log.read(Offset(1), 100, 10)->size() == 2);
  CHECK(log.read(Offset(5), 100, 10).status().code() == ErrorCode::offset_out_of_range);
}

TEST_CASE("raft.TrimKeepsTheBaseTerm", "[raft][log]") {
  InMemoryLog log;
  REQUIRE(log.append({entry(1, 0, 2), entry(2, 3, 3), entry(3, 4, 6)}).ok());
  log.flush_to(Offset(6));
  log.trim_prefix(Offset(4));  // inside [4..6]: only whole entries go
  CHECK(log.first_index() == Offset(4));
  CHECK(log.term_at(Offset(3)) == Term(2));
  REQUIRE(log.reset(Offset(10), Term(3)).ok());
  CHECK(log.first_index() == Offset(11));
  CHECK(log.last_index() == Offset(10));
  CHECK(log.flushed_index() == Offset(10));
  CHECK(log.last_term() == Term(3));
}

TEST_CASE("raft.FindEntryEndWalksBackByTerm", "[raft][log]") {
  InMemoryLog log;
  REQUIRE(log.append({entry(1, 0, 0), entry(2, 1, 2), entry(3, 3, 5), entry(3, 6, 6)}).ok());
  CHECK(find_entry_end_at_or_below(log, Offset(6), Term(3), 10) == Offset(6));
  CHECK(find_entry_end_at_or_below(log, Offset(6), Term(2), 10) == Offset(2));
  CHECK(find_entry_end_at_or_below(log, Offset(4), Term(3), 10) == Offset(2));  // inside an entry
  CHECK(find_entry_end_at_or_below(log, Offset(6), Term(0), 10) == Offset(-1));
  CHECK(find_entry_end_at_or_below(log, Offset(6), Term(0), 1) == Offset(5));   // step limit
}

}  // namespace
}  // namespace cairn::raft
