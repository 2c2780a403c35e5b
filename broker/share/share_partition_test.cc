#include "broker/share/share_partition.h"

#include <catch2/catch.hpp>

using namespace cairn;
using namespace cairn::broker;

namespace {

SharePartitionLimits limits(int32_t attempts = 3, int32_t locks = 100) {
  SharePartitionLimits out;
  out.record_lock_ms = 1000;
  out.max_record_locks = locks;
  out.max_delivery_attempts = attempts;
  return out;
}

// Acquires offsets [from, to) as new records for `member`.
void acquire_range(SharePartition& share, int64_t from, int64_t to, const std::string& member, int64_t now,
                   const SharePartitionLimits& l) {
  for (int64_t o = from; o < to; ++o) share.acquire_new(Offset(o), member, {now, now}, l);
}

}  // namespace

TEST_CASE("SharePartition.AcceptedRecordsMoveTheStartPastThem", "[share]") {
  auto l = limits();
  SharePartition share(Offset(10));
  acquire_range(share, 10, 15, "a", 0, l);
  CHECK(share.end() == Offset(15));
  CHECK(share.start() == Offset(10));
  // Accepting a later record first leaves the start at the oldest pending one.
  REQUIRE(share.acknowledge("a", Offset(12), Offset(14), AckType::accept, "", 1, l).ok());
  CHECK(share.start() == Offset(10));
  REQUIRE(share.acknowledge("a", Offset(10), Offset(11), AckType::accept, "", 1, l).ok());
  CHECK(share.start() == Offset(15));
  CHECK(share.records().empty());
}

TEST_CASE("SharePartition.OnlyTheHolderMayAcknowledgeAndOnlyWhileTheLockLasts", "[share]") {
  auto l = limits();
  SharePartition share(Offset(0));
  acquire_range(share, 0, 2, "a", 0, l);
  CHECK(share.acknowledge("b", Offset(0), Offset(0), AckType::accept, "", 1, l).code() ==
        ErrorCode::record_not_acquired);
  // After the lock's end: refused, whether or not the sweep ran yet.
  CHECK(share.acknowledge("a", Offset(1), Offset(1), AckType::accept, "", 1001, l).code() ==
        ErrorCode::record_not_acquired);
  // All or nothing: a range with one record not held changes none.
  CHECK(share.acknowledge("a", Offset(0), Offset(5), AckType::accept, "", 1, l).code() ==
        ErrorCode::record_not_acquired);
  CHECK(share.records().at(Offset(0)).state == DeliveryState::acquired);
  REQUIRE(share.acknowledge("a", Offset(0), Offset(0), AckType::accept, "", 1, l).ok());
  CHECK(share.acknowledge("a", Offset(0), Offset(0), AckType::accept, "", 1, l).code() ==
        ErrorCode::record_not_acquired);
}

TEST_CASE("SharePartition.ALockThatEndsReleasesTheRecordToAnotherMember", "[share]") {
  auto l = limits();
  SharePartition share(Offset(0));
  acquire_range(share, 0, 1, "a", 0, l);
  CHECK_FALSE(share.release_expired(1000, l));  // the lock lasts until 1000 inclusive
  CHECK(share.release_expired(1001, l));
  auto again = share.acquire_available("b", 10, {1002, 1002}, l);
  REQUIRE(again == std::vector<Offset>{Offset(0)});
  CHECK(share.records().at(Offset(0)).delivery_count == 2);
  CHECK(share.records().at(Offset(0)).member == "b");
}

TEST_CASE("SharePartition.TheLastAllowedFailedDeliveryDeadLettersTheRecord", "[share]") {
  auto l = limits(3);
  SharePartition share(Offset(0));
  acquire_range(share, 0, 1, "a", 0, l);
  for (int attempt = 1; attempt < 3; ++attempt) {
    REQUIRE(share.acknowledge("a", Offset(0), Offset(0), AckType::release, "boom", attempt, l).ok());
    REQUIRE(share.acquire_available("a", 1, {attempt, attempt}, l).size() == 1);
  }
  CHECK(share.records().at(Offset(0)).delivery_count == 3);
  REQUIRE(share.acknowledge("a", Offset(0), Offset(0), AckType::release, "boom 3", 5, l).ok());
  CHECK(share.records().at(Offset(0)).state == DeliveryState::dead_lettering);
  CHECK(share.records().at(Offset(0)).last_error == "boom 3");
  CHECK(share.acquire_available("a", 1, {6, 6}, l).empty());
  CHECK(share.dead_lettering() == std::vector<Offset>{Offset(0)});
  CHECK(share.start() == Offset(0));  // not done until it is in the dead-letter topic
  share.mark_dead_lettered(Offset(0));
  CHECK(share.start() == Offset(1));
}

TEST_CASE("SharePartition.RejectDeadLettersAtOnceAndGiveBackDoesNotCount", "[share]") {
  auto l = limits(3);
  SharePartition share(Offset(0));
  acquire_range(share, 0, 2, "a", 0, l);
  REQUIRE(share.acknowledge("a", Offset(0), Offset(0), AckType::reject, "poison", 1, l).ok());
  CHECK(share.records().at(Offset(0)).state == DeliveryState::dead_lettering);
  REQUIRE(share.acknowledge("a", Offset(1), Offset(1), AckType::give_back, "", 1, l).ok());
  CHECK(share.records().at(Offset(1)).delivery_count == 0);
  CHECK(share.records().at(Offset(1)).state == DeliveryState::available);
}

TEST_CASE("SharePartition.RenewExtendsTheLock", "[share]") {
  auto l = limits();
  SharePartition share(Offset(0));
  acquire_range(share, 0, 1, "a", 0, l);
  REQUIRE(share.acknowledge("a", Offset(0), Offset(0), AckType::renew, "", 900, l).ok());
  CHECK_FALSE(share.release_expired(1500, l));
  REQUIRE(share.acknowledge("a", Offset(0), Offset(0), AckType::accept, "", 1800, l).ok());
}

TEST_CASE("SharePartition.TheWindowBoundsWhatIsTracked", "[share]") {
  auto l = limits(5, 3);
  SharePartition share(Offset(0));
  CHECK(share.room(l) == 3);
  acquire_range(share, 0, 3, "a", 0, l);
  CHECK(share.room(l) == 0);
  REQUIRE(share.acknowledge("a", Offset(1), Offset(2), AckType::accept, "", 1, l).ok());
  CHECK(share.room(l) == 0);  // held up by offset 0
  REQUIRE(share.acknowledge("a", Offset(0), Offset(0), AckType::accept, "", 1, l).ok());
  CHECK(share.room(l) == 3);
}

TEST_CASE("SharePartition.StateSurvivesEncodingAndARestartEndsLocks", "[share]") {
  auto l = limits(2);
  SharePartition share(Offset(100));
  acquire_range(share, 100, 104, "a", 0, l);
  share.skip_to(Offset(110));  // 104..109 hold no record
  REQUIRE(share.acknowledge("a", Offset(101), Offset(101), AckType::accept, "", 1, l).ok());
  REQUIRE(share.acknowledge("a", Offset(102), Offset(102), AckType::release, "why", 1, l).ok());
  REQUIRE(share.acknowledge("a", Offset(103), Offset(103), AckType::reject, "bad", 1, l).ok());
  auto decoded = SharePartition::decode(share.encode());
  REQUIRE(decoded.ok());
  CHECK(decoded->start() == Offset(100));
  CHECK(decoded->end() == Offset(110));
  const auto& r = decoded->records();
  REQUIRE(r.size() == 4);
  CHECK(r.at(Offset(100)).state == DeliveryState::available);  // was held: the lock ended
  CHECK(r.at(Offset(100)).delivery_count == 1);
  CHECK(r.at(Offset(101)).state == DeliveryState::acknowledged);
  CHECK(r.at(Offset(102)).last_error == "why");
  CHECK(r.at(Offset(103)).state == DeliveryState::dead_lettering);
  // A record whose last allowed delivery a restart ended goes to the dead letters.
  SharePartition last(Offset(0));
  acquire_range(last, 0, 1, "a", 0, l);
  REQUIRE(last.acknowledge("a", Offset(0), Offset(0), AckType::release, "", 1, l).ok());
  REQUIRE(last.acquire_available("a", 1, {2, 2}, l).size() == 1);
  auto restarted = SharePartition::decode(last.encode());
  REQUIRE(restarted.ok());
  CHECK(restarted->acquire_available("b", 1, {3, 3}, l).empty());
  CHECK(restarted->dead_lettering() == std::vector<Offset>{Offset(0)});
}

TEST_CASE("SharePartition.CorruptStateIsAnErrorNotACrash", "[share]") {
  SharePartition share(Offset(5));
  auto l = limits();
  acquire_range(share, 5, 8, "a", 0, l);
  std::string bytes = share.encode();
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    CHECK_FALSE(SharePartition::decode(bytes.substr(0, cut)).ok());
  }
  CHECK_FALSE(SharePartition::decode(bytes + "x").ok());
}

TEST_CASE("SharePartition.RetentionDropsRecordsBelowTheLogStart", "[share]") {
  auto l = limits();
  SharePartition share(Offset(0));
  acquire_range(share, 0, 5, "a", 0, l);
  share.drop_below(Offset(3));
  CHECK(share.start() == Offset(3));
  CHECK(share.records().size() == 2);
  share.drop_below(Offset(20));
  CHECK(share.start() == Offset(20));
  CHECK(share.end() == Offset(20));
}

TEST_CASE("SharePartition.LocksRunOnTheSteadyClockAndDeliveriesAreStampedWithWallTime", "[share]") {
  SharePartition share(Offset(0));
  auto l = limits();
  // The wall clock says 2026; steady time counts from the host's boot.
  const int64_t wall = 1'796'000'000'000;
  share.acquire_new(Offset(0), "a", {wall, 50}, l);
  const InFlightRecord& record = share.records().at(Offset(0));
  CHECK(record.first_delivery_ms == wall);
  CHECK(record.last_delivery_ms == wall);
  // Only steady time ends a lock (record_lock_ms 1000 after steady 50).
  CHECK_FALSE(share.release_expired(1050, l));
  CHECK(share.acknowledge("a", Offset(0), Offset(0), AckType::renew, "", 1040, l).ok());
  CHECK_FALSE(share.release_expired(2040, l));
  CHECK(share.release_expired(2041, l));
  auto again = share.acquire_available("b", 1, {wall + 5000, 2100}, l);
  REQUIRE(again.size() == 1);
  CHECK(share.records().at(Offset(0)).first_delivery_ms == wall);
  CHECK(share.records().at(Offset(0)).last_delivery_ms == wall + 5000);
}
