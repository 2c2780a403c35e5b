// The store's group commit across partitions (Flusher).

#include <catch2/catch.hpp>

#include <future>

#include "storage/test_util.h"

using namespace cairn;
using namespace cairn::storage;
using namespace cairn::storage::testing;

TEST_CASE("ASlowSyncOfOnePartitionDoesNotHoldUpAnothers", "[flusher]") {
  StoreFixture f;
  auto slow = f.log();
  auto other = *f.store->open_partition({"events", 1}, LogConfig());
  f.env.hold_next_sync();
  append(*slow, make_batch(1, 1000, "slow"));  // its group commit takes the held sync
  f.env.wait_for_held_sync();

  AppendResult appended = append(*other, make_batch(1, 1000, "other"));
  // Shared: the callback may outlive this test if it fails.
  auto flushed = std::make_shared<std::promise<Status>>();
  other->when_flushed(appended.last_offset + 1, [flushed](Status s) { flushed->set_value(s); });
  auto outcome = flushed->get_future();
  bool in_time = outcome.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
  bool slow_still_held = slow->flushed() < slow->log_end();
  f.env.release_held_sync();
  REQUIRE(in_time);
  CHECK(slow_still_held);
  CHECK(outcome.get().ok());

  // The held sync completes: the slow partition's waiters are answered too.
  auto slow_flushed = std::make_shared<std::promise<Status>>();
  slow->when_flushed(slow->log_end(), [slow_flushed](Status s) { slow_flushed->set_value(s); });
  auto slow_outcome = slow_flushed->get_future();
  REQUIRE(slow_outcome.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  CHECK(slow_outcome.get().ok());
}
