#include "tools/position.h"

#include <catch2/catch.hpp>

using namespace cairn;
using namespace cairn::tools;
using Kind = Position::Kind;

TEST_CASE("PositionsAreWrittenOneWayEverywhere", "[cli]") {
  auto parse = [](const std::string& text) { return parse_position(text, "--from").value(); };
  CHECK(parse("earliest").kind == Kind::earliest);
  CHECK(parse("beginning").kind == Kind::earliest);
  CHECK(parse("latest").kind == Kind::latest);
  CHECK(parse("end").kind == Kind::latest);
  CHECK(parse("42").kind == Kind::offset);
  CHECK(parse("42").value == 42);
  CHECK(parse("@1700000000000").kind == Kind::time);
  CHECK(parse("@1700000000000").value == 1'700'000'000'000);
  CHECK(parse("2023-11-14T22:13:20Z").value == 1'700'000'000'000);
  CHECK(parse("2023-11-14T22:13:20.250Z").value == 1'700'000'000'250);
  CHECK(parse("2023-11-15T00:13:20+02:00").value == 1'700'000'000'000);
  CHECK(parse("2023-11-14T20:43:20-01:30").value == 1'700'000'000'000);
}

TEST_CASE("APositionThatDoesNotParseSaysWhatIsTaken", "[cli]") {
  auto why = [](const std::string& text) { return parse_position(text, "--from").status().message(); };
  CHECK_THAT(why("yesterday"), Catch::Contains("--from 'yesterday' (not a time): give earliest, latest"));
  // A time without a zone would be read in whatever zone the machine is in.
  CHECK_THAT(why("2023-11-14T22:13:20"), Catch::Contains("no zone: end it with Z for UTC"));
  CHECK_THAT(why("2023-11-14T22:13:20Zulu"), Catch::Contains("trailing 'ulu'"));
  CHECK_THAT(why("2023-11-14T22:13:20+25:00"), Catch::Contains("bad zone"));
  CHECK_THAT(why("2023-11-14T22:13:20+-1:30"), Catch::Contains("bad zone"));
  CHECK_THAT(why("2023-02-31T00:00:00Z"), Catch::Contains("no such date"));
  CHECK_THAT(why("2023-11-14T22:13:20.Z"), Catch::Contains("no digits after '.'"));
  CHECK_THAT(why("@soon"), Catch::Contains("@ must be followed by Unix milliseconds"));
  CHECK_THAT(why("-3"), Catch::Contains("not a time"));
  CHECK_THAT(why("99999999999999999999"), Catch::Contains("too large"));
  CHECK_THAT(why(""), Catch::Contains("--from ''"));
}

TEST_CASE("TimesAreFormattedAsParsePositionReadsThem", "[unit]") {
  CHECK(format_time(0) == "1970-01-01T00:00:00.000Z");
  int64_t ms = 1796377538295;
  auto parsed = parse_position(format_time(ms), "--from");
  REQUIRE(parsed.ok());
  CHECK(parsed->kind == Position::Kind::time);
  CHECK(parsed->value == ms);
}

