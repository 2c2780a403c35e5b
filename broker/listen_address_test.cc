#include <catch2/catch.hpp>

#include "broker/listen_address.h"

using namespace cairn;
using namespace cairn::broker;

TEST_CASE("ListenAddressParsesHostAndPort", "[listen]") {
  auto v4 = parse_listen_address("127.0.0.1:7070");
  REQUIRE(v4.ok());
  CHECK(v4->host == "127.0.0.1");
  CHECK(v4->port == 7070);
  auto v6 = parse_listen_address("[::1]:0");
  REQUIRE(v6.ok());
  CHECK(v6->host == "::1");
  CHECK(v6->port == 0);  // the kernel picks one: the test harness relies on it
  CHECK(v6->to_string() == "[::1]:0");
  CHECK(parse_listen_address("localhost:65535").ok());
}

TEST_CASE("ListenAddressWithoutAUsablePortIsRefused", "[listen]") {
  for (const char* bad : {"notanaddress", "", "127.0.0.1", "127.0.0.1:", "127.0.0.1:99999",
                          "127.0.0.1:-1", "127.0.0.1:70x", ":7070", "::1:7070"}) {
    INFO(bad);
    auto parsed = parse_listen_address(bad);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.status().code() == ErrorCode::invalid_config);
    CHECK_THAT(parsed.status().message(), Catch::Contains("give host:port"));
  }
  CHECK_THAT(parse_listen_address("127.0.0.1:99999").status().message(),
             Catch::Contains("not a number in 0..65535"));
}
