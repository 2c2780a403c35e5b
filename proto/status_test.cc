#include "proto/status.h"

#include <catch2/catch.hpp>

using namespace cairn;

TEST_CASE("AFailedResultsValueThrowsWhatWentWrong", "[status]") {
  Result<int> failed = error(ErrorCode::unknown_topic_or_partition, "topic '{}' does not exist", "t");
  CHECK_THROWS_WITH(failed.value(), "unknown_topic_or_partition: topic 't' does not exist");
  CHECK_THROWS_AS(*failed, BadResultAccess);
  try {
    (void)std::move(failed).value();
  } catch (const BadResultAccess& e) {
    CHECK(e.status().code() == ErrorCode::unknown_topic_or_partition);
  }
  Result<std::string> ok = std::string("value");
  CHECK(ok.value() == "value");
  CHECK(ok->size() == 5);
  CHECK(std::move(ok).value() == "value");
}
