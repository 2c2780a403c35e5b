#include <catch2/catch.hpp>

#include "cairn/producer.h"

using namespace cairn;

// Vectors from Apache Kafka's UtilsTest.testMurmur2: keyed records must land
// on the partition a Kafka client would choose.
TEST_CASE("Murmur2MatchesKafka", "[partitioner]") {
  CHECK(static_cast<int32_t>(murmur2("21")) == -973932308);
  CHECK(static_cast<int32_t>(murmur2("foobar")) == -790332482);
  CHECK(static_cast<int32_t>(murmur2("a-little-bit-long-string")) == -985981536);
  CHECK(static_cast<int32_t>(murmur2("a-little-bit-longer-string")) == -1486304829);
  CHECK(static_cast<int32_t>(murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8")) == -58897971);
  CHECK(static_cast<int32_t>(murmur2("abc")) == 479470107);
}

TEST_CASE("KeyPartitionIsStableAndInRange", "[partitioner]") {
  for (int i = 0; i < 1000; ++i) {
    std::string key = "key-" + std::to_string(i);
    int32_t p = partition_for_key(key, 7);
    CHECK(p >= 0);
    CHECK(p < 7);
    CHECK(partition_for_key(key, 7) == p);
  }
}

TEST_CASE("BrokerListParsing", "[client]") {
  CHECK(parse_broker_list("a:1,b:2").value() == std::vector<std::string>{"a:1", "b:2"});
  CHECK(parse_broker_list("a:1").value() == std::vector<std::string>{"a:1"});
  CHECK(parse_broker_list("[::1]:7070").value() == std::vector<std::string>{"[::1]:7070"});
  // Each says which address is wrong and how.
  auto why = [](const std::string& list) { return parse_broker_list(list).status().message(); };
  CHECK_THAT(why(""), Catch::Contains("no broker address given"));
  CHECK_THAT(why(",a:1"), Catch::Contains("empty address between commas"));
  CHECK_THAT(why("a:1,b"), Catch::Contains("'b' has no port"));
  CHECK_THAT(why("a:"), Catch::Contains("'a:' has no port"));
  CHECK_THAT(why(":7070"), Catch::Contains("has no host"));
  CHECK_THAT(why("a:0"), Catch::Contains("port 0"));
  CHECK_THAT(why("a:70700"), Catch::Contains("not a number in 0..65535"));
  CHECK_THAT(why("a:x"), Catch::Contains("not a number"));
}
