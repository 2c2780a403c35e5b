#include "produce_request_buffer.h"

#include <catch2/catch.hpp>

using namespace cairn;
using cairn::client::ProduceRequestBuffer;

TEST_CASE("ProduceRequestBuffer.ParsesAsTheProduceRequestItStandsFor", "[client]") {
  auto first = std::make_shared<std::string>(3'000, 'a');
  auto second = std::make_shared<std::string>("b");
  auto third = std::make_shared<std::string>(200, 'c');
  ProduceRequestBuffer buffer(v1::ACKS_ALL, 7'000, 42);
  buffer.add({"orders", 3}, first);
  buffer.add({"orders", 3}, second);
  buffer.add({"a-much-longer-topic-name", 0}, third);
  grpc::ByteBuffer bytes = std::move(buffer).build();

  std::vector<grpc::Slice> slices;
  REQUIRE(bytes.Dump(&slices).ok());
  std::string wire;
  for (const auto& slice : slices) wire.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  v1::ProduceRequest request;
  REQUIRE(request.ParseFromString(wire));
  CHECK(request.acks() == v1::ACKS_ALL);
  CHECK(request.timeout_ms() == 7'000);
  CHECK(request.request_id() == 42);
  REQUIRE(request.partitions_size() == 3);
  CHECK(request.partitions(0).topic() == "orders");
  CHECK(request.partitions(0).partition() == 3);
  CHECK(request.partitions(0).batches() == *first);
  CHECK(request.partitions(1).batches() == *second);
  CHECK(request.partitions(2).topic() == "a-much-longer-topic-name");
  CHECK(request.partitions(2).partition() == 0);
  CHECK(request.partitions(2).batches() == *third);
}

TEST_CASE("ProduceRequestBuffer.SendsTheBatchesBytesWithoutCopyingThem", "[client]") {
  auto batch = std::make_shared<std::string>(100'000, 'x');
  ProduceRequestBuffer buffer(v1::ACKS_LEADER, 1'000, 1);
  buffer.add({"t", 0}, batch);
  grpc::ByteBuffer bytes = std::move(buffer).build();
  CHECK(batch.use_count() == 2);  // the buffer holds the bytes alive
  std::vector<grpc::Slice> slices;
  REQUIRE(bytes.Dump(&slices).ok());
  bool shared = false;
  for (const auto& slice : slices) {
    shared = shared || reinterpret_cast<const char*>(slice.begin()) == batch->data();
  }
  CHECK(shared);
  slices.clear();
  bytes.Clear();
  CHECK(batch.use_count() == 1);  // and lets go of them with the last slice
}
