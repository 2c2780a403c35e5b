#include "broker/cluster/replica_assignment.h"

#include <catch2/catch.hpp>

#include <map>
#include <set>

namespace cairn::broker {

TEST_CASE("replicas spread evenly, each partition on distinct brokers", "[cluster]") {
  auto assigned = assign_replicas({3, 1, 2}, 6, 3, 7);
  REQUIRE(assigned.ok());
  REQUIRE(assigned->size() == 6);
  std::map<int32_t, int> replicas, preferred;
  for (const auto& partition : *assigned) {
    REQUIRE(partition.size() == 3);
    CHECK(std::set<int32_t>(partition.begin(), partition.end()).size() == 3);
    for (int32_t id : partition) ++replicas[id];
    ++preferred[partition.front()];
  }
  for (int32_t id : {1, 2, 3}) {
    CHECK(replicas[id] == 6);
    CHECK(preferred[id] == 2);
  }
}

TEST_CASE("a smaller factor still balances, and a larger one is refused", "[cluster]") {
  auto assigned = assign_replicas({1, 2, 3, 4}, 4, 2, 0);
  REQUIRE(assigned.ok());
  std::map<int32_t, int> replicas;
  for (const auto& partition : *assigned) {
    CHECK(partition[0] != partition[1]);
    for (int32_t id : partition) ++replicas[id];
  }
  for (int32_t id : {1, 2, 3, 4}) CHECK(replicas[id] == 2);
  auto refused = assign_replicas({1, 2, 3}, 1, 4, 0);
  CHECK(refused.status().code() == ErrorCode::invalid_request);
  CHECK_THAT(refused.status().message(), Catch::Contains("the cluster has 3"));
}

}  // namespace cairn::broker
