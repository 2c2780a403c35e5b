// Fetch responses are bounded by the broker, whatever the client asks for,
// and a reader always progresses.

#include <grpcpp/grpcpp.h>

#include "cairn/v1/broker.grpc.pb.h"
#include "cluster_fixture.h"
#include "proto/record_batch.h"
#include "raw_broker.h"

using namespace cairn;
using namespace cairn::testing;

namespace {

v1::FetchResponse fetch_from(v1::Broker::Stub& stub, const std::string& topic,
                             const std::vector<int64_t>& offsets, int32_t max_bytes,
                             bool as_records = false) {
  v1::FetchRequest request;
  for (size_t p = 0; p < offsets.size(); ++p) {
    auto* want = request.add_partitions();
    want->set_topic(topic);
    want->set_partition(static_cast<int32_t>(p));
    want->set_offset(offsets[p]);
    want->set_max_bytes(1 << 20);
  }
  request.set_max_bytes(max_bytes);
  request.set_as_records(as_records);
  grpc::ClientContext context;
  v1::FetchResponse response;
  grpc::Status status = stub.Fetch(&context, request, &response);
  INFO(status.error_message());
  REQUIRE(status.ok());
  return response;
}

size_t batch_bytes(const v1::FetchResponse& response) {
  size_t bytes = 0;
  for (const auto& p : response.partitions()) bytes += p.batches().size();
  return bytes;
}

}  // namespace

TEST_CASE("FetchResponsesStayWithinTheBrokersCapAndReadersProgress", "[integration]") {
  constexpr int kPartitions = 6;
  constexpr int kBatchesEach = 3;
  SingleBroker cluster({"--fetch-max-bytes", "1000000"});
  cluster.create_topic("wide", kPartitions);
  auto stub = raw_stub(cluster);
  std::string batch = batch_of(1, std::string(300'000, 'x'));
  for (int p = 0; p < kPartitions; ++p) {
    for (int i = 0; i < kBatchesEach; ++i) REQUIRE(produce_error(*stub, "wide", p, batch) == v1::NONE);
  }

  // The client asks for 64 MiB; the broker's 1 MB cap wins. Later partitions
  // get nothing rather than one batch each over the cap.
  auto capped = fetch_from(*stub, "wide", std::vector<int64_t>(kPartitions, 0), 64 << 20);
  CHECK(batch_bytes(capped) <= 1'000'000);
  CHECK(capped.partitions(0).batches().size() == kBatchesEach * batch.size());
  for (int p = 1; p < kPartitions; ++p) {
    CHECK(capped.partitions(p).batches().empty());
    CHECK(capped.partitions(p).next_offset() == 0);
    CHECK(capped.partitions(p).high_watermark() == kBatchesEach);
  }

  // A limit below one batch still gets the first partition's next batch.
  auto small = fetch_from(*stub, "wide", std::vector<int64_t>(kPartitions, 0), 1000);
  CHECK(batch_bytes(small) == batch.size());
  CHECK(small.partitions(0).next_offset() == 1);

  // Following next_offset reads every partition to its end.
  std::vector<int64_t> next(kPartitions, 0);
  int rounds = 0;
  auto done = [&] {
    return std::all_of(next.begin(), next.end(), [](int64_t o) { return o == kBatchesEach; });
  };
  for (; !done() && rounds < 4 * kPartitions * kBatchesEach; ++rounds) {
    auto response = fetch_from(*stub, "wide", next, 64 << 20);
    CHECK(batch_bytes(response) <= 1'000'000);
    for (int p = 0; p < kPartitions; ++p) next[p] = response.partitions(p).next_offset();
  }
  CHECK(done());
  CHECK(rounds <= kPartitions * kBatchesEach);
}

TEST_CASE("ARecordTooLargeToSendIsAnErrorNotALostResponse", "[integration]") {
  // zstd shrinks the batch far below the request limit; as records it is not.
  SingleBroker cluster({"--max-request-bytes", "200000"});
  cluster.create_topic("dense", 1);
  auto stub = raw_stub(cluster);
  RecordBatchBuilder builder(Compression::zstd);
  builder.add(std::nullopt, std::string(500'000, 'z'), {}, 1000);
  REQUIRE(produce_error(*stub, "dense", 0, builder.build().value()) == v1::NONE);

  auto as_records = fetch_from(*stub, "dense", {0}, 0, /*as_records=*/true);
  const auto& p = as_records.partitions(0);
  CHECK(p.error().code() == v1::RECORD_TOO_LARGE);
  CHECK_THAT(p.error().message(), Catch::Contains("dense/0") && Catch::Contains("offset 0"));
  CHECK(p.records().empty());

  auto as_batches = fetch_from(*stub, "dense", {0}, 0);
  CHECK(as_batches.partitions(0).error().code() == v1::NONE);
  CHECK(as_batches.partitions(0).next_offset() == 1);
}
