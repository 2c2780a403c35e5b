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

TEST_CASE("decommissioning moves every replica off a broker, evenly", "[cluster]") {
  auto assigned = assign_replicas({1, 2, 3, 4}, 8, 2, 0);
  REQUIRE(assigned.ok());
  std::vector<PartitionPlacement> placement;
  for (int32_t p = 0; p < 8; ++p) placement.push_back({"t", p, (*assigned)[static_cast<size_t>(p)]});
  auto moves = plan_decommission(placement, 4, {1, 2, 3});
  REQUIRE(moves.ok());
  CHECK(moves->size() == 4);
  std::map<int32_t, int> after;
  for (auto& p : placement) {
    for (const auto& move : *moves) {
      if (move.from.partition == p.partition) {
        // Same position: a preferred leader that stays keeps its place.
        for (size_t r = 0; r < p.replicas.size(); ++r) {
          if (p.replicas[r] != 4) CHECK(move.to[r] == p.replicas[r]);
        }
        p.replicas = move.to;
      }
    }
    CHECK(p.replicas[0] != p.replicas[1]);
    for (int32_t id : p.replicas) ++after[id];
  }
  CHECK(after.count(4) == 0);
  for (int32_t id : {1, 2, 3}) CHECK((after[id] == 5 || after[id] == 6));

  auto refused = plan_decommission(placement, 1, {2});
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.status().message(), Catch::Contains("no other live broker can take"));
}

TEST_CASE("adding a broker moves replicas onto it from the fullest", "[cluster]") {
  std::vector<PartitionPlacement> placement;
  for (int32_t p = 0; p < 6; ++p) placement.push_back({"t", p, {1 + p % 2, 1 + (p + 1) % 2}});
  auto moves = plan_add(placement, 3, {1, 2, 3});
  CHECK(moves.size() == 4);  // 12 replicas over 3 brokers: 4 each
  std::map<int32_t, int> after;
  std::set<int32_t> moved;
  for (const auto& move : moves) {
    CHECK(moved.insert(move.from.partition).second);
    placement[static_cast<size_t>(move.from.partition)].replicas = move.to;
  }
  for (const auto& p : placement) {
    CHECK(p.replicas[0] != p.replicas[1]);
    for (int32_t id : p.replicas) ++after[id];
  }
  for (int32_t id : {1, 2, 3}) CHECK(after[id] == 4);
  CHECK(plan_add(placement, 3, {1, 2, 3}).empty());  // balanced already
}

}  // namespace cairn::broker
