#include <catch2/catch.hpp>

#include <set>

#include "broker/producer_ids.h"
#include "storage/durable_file.h"
#include "storage/fault_injection_env.h"

using namespace cairn;
using namespace cairn::broker;
using cairn::storage::CrashMode;
using cairn::storage::FaultInjectionEnv;

namespace {

constexpr char kPath[] = "/data/producer-ids";

std::unique_ptr<ProducerIdAllocator> open_allocator(FaultInjectionEnv& env, int32_t node_id) {
  REQUIRE(env.create_dirs("/data").ok());
  auto opened = ProducerIdAllocator::open(env, kPath, node_id);
  INFO(opened.status().to_string());
  REQUIRE(opened.ok());
  return std::move(*opened);
}

}  // namespace

TEST_CASE("ProducerIdsAreNeverHandedOutTwiceAcrossAPowerLoss", "[producer-ids]") {
  FaultInjectionEnv env;
  std::set<int64_t> seen;
  for (int life = 0; life < 3; ++life) {
    auto allocator = open_allocator(env, 3);
    // More than a block: the second reservation is synced too.
    for (int i = 0; i < ProducerIdAllocator::kBlockSize + 10; ++i) {
      auto id = allocator->next();
      REQUIRE(id.ok());
      CHECK(*id >> ProducerIdAllocator::kCounterBits == 3);  // the node id
      CHECK(seen.insert(*id).second);
    }
    allocator.reset();
    env.crash(CrashMode::power_loss);
  }
}

TEST_CASE("AnUnreadableProducerIdFileIsAnErrorNotAReset", "[producer-ids]") {
  FaultInjectionEnv env;
  REQUIRE(env.create_dirs("/data").ok());
  REQUIRE(storage::replace_file_durably(env, kPath, "12x\n").ok());
  auto opened = ProducerIdAllocator::open(env, kPath, 1);
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.status().code() == ErrorCode::storage_corrupt);
  CHECK(ProducerIdAllocator::open(env, "/data/other", 1 << 23).status().code() == ErrorCode::invalid_config);
}
