// What each acks level waits for, shown on a broker whose disk syncs slowly
// (cairnd --test-sync-delay-ms): a SIGKILL keeps the page cache, so only a
// slow or failing sync can tell "appended" from "durable".

#include <chrono>

#include "cluster_fixture.h"
#include "raw_broker.h"

using namespace cairn;
using namespace cairn::testing;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kSyncDelay = std::chrono::milliseconds(2000);

}  // namespace

TEST_CASE("AcksAllIsAnsweredOnlyAfterTheSyncAndReadersSeeOnlySyncedRecords", "[integration]") {
  SingleBroker cluster({"--test-sync-delay-ms", std::to_string(kSyncDelay.count())});
  cluster.create_topic("slow", 1);

  auto all = cluster.producer(Acks::all);
  auto start = Clock::now();
  auto durable = all->send({.topic = "slow", .value = "durable", .partition = 0}).get();
  auto waited = Clock::now() - start;
  REQUIRE(durable.ok());
  CHECK(waited >= kSyncDelay);

  // acks=leader is answered once appended, long before the sync ends...
  auto leader = cluster.producer(Acks::leader);
  start = Clock::now();
  auto appended = leader->send({.topic = "slow", .value = "appended", .partition = 0}).get();
  waited = Clock::now() - start;
  REQUIRE(appended.ok());
  CHECK(waited < kSyncDelay);

  // ...but no reader sees the record until the sync has made it durable.
  auto stub = raw_stub(cluster);
  v1::FetchRequest fetch;
  auto* want = fetch.add_partitions();
  want->set_topic("slow");
  want->set_partition(0);
  want->set_offset(appended->offset.value);
  grpc::ClientContext context;
  v1::FetchResponse response;
  REQUIRE(stub->Fetch(&context, fetch, &response).ok());
  CHECK(response.partitions(0).batches().empty());
  CHECK(response.partitions(0).high_watermark() == appended->offset.value);

  auto consumer = cluster.consumer();
  REQUIRE(consumer->assign({{"slow", 0}}).ok());
  auto records = consume(*consumer, 2);
  REQUIRE(records.size() == 2);
  CHECK(*records[1].record.value == "appended");
}
