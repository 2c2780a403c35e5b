#include "broker/cluster/controller_voters.h"

#include <catch2/catch.hpp>

namespace cairn::broker {

TEST_CASE("controller voters parse into one canonical list", "[cluster]") {
  auto a = parse_controller_voters("2@127.0.0.1:7072,1@127.0.0.1:7071,3@[::1]:7073");
  INFO(a.status().to_string());
  REQUIRE(a.ok());
  CHECK(a->ids() == std::vector<int32_t>{1, 2, 3});
  CHECK(a->canonical() == "1@127.0.0.1:7071,2@127.0.0.1:7072,3@[::1]:7073");
  REQUIRE(a->find(3));
  CHECK(a->find(3)->address == "[::1]:7073");
  CHECK_FALSE(a->find(4));
  auto b = parse_controller_voters("1@127.0.0.1:7071,3@[::1]:7073,2@127.0.0.1:7072");
  REQUIRE(b.ok());
  CHECK(b->canonical() == a->canonical());
}

TEST_CASE("controller voters refuse what cannot be a cluster", "[cluster]") {
  for (const char* bad : {"", "1@127.0.0.1:7071,", "127.0.0.1:7071", "x@127.0.0.1:7071",
                          "-1@127.0.0.1:7071", "1@127.0.0.1", "1@127.0.0.1:0", "1@:7071",
                          "1@127.0.0.1:7071,1@127.0.0.1:7072", "1@127.0.0.1:7071,2@127.0.0.1:7071"}) {
    auto parsed = parse_controller_voters(bad);
    INFO(bad);
    CHECK(parsed.status().code() == ErrorCode::invalid_config);
    CHECK_FALSE(parsed.status().message().empty());
  }
}

TEST_CASE("a broker must be a voter, at the address the others use", "[cluster]") {
  auto voters = parse_controller_voters("1@127.0.0.1:7071,2@127.0.0.1:7072");
  REQUIRE(voters.ok());
  CHECK(check_member_of(*voters, 1, "127.0.0.1:7071").ok());
  CHECK(check_member_of(*voters, 2, "0.0.0.0:7072").ok());  // a wildcard host with its port
  Status not_a_voter = check_member_of(*voters, 3, "127.0.0.1:7073");
  CHECK(not_a_voter.code() == ErrorCode::invalid_config);
  CHECK_THAT(not_a_voter.message(), Catch::Contains("--node-id 3 is not in --controller-voters"));
  Status wrong_port = check_member_of(*voters, 1, "127.0.0.1:7072");
  CHECK(wrong_port.code() == ErrorCode::invalid_config);
  CHECK_THAT(wrong_port.message(), Catch::Contains("127.0.0.1:7071"));
  CHECK(check_member_of(*voters, 1, "127.0.0.2:7071").code() == ErrorCode::invalid_config);
}

}  // namespace cairn::broker
