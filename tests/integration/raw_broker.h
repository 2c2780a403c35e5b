#pragma once

// Raw gRPC calls to one broker, without the client library: for tests that
// must send what a client would never send, or see exactly what comes back.

#include <catch2/catch.hpp>

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>

#include "cairn/v1/broker.grpc.pb.h"
#include "cluster_fixture.h"
#include "proto/record_batch.h"
#include "proto/record_batch_format.h"

namespace cairn::testing {

inline std::unique_ptr<v1::Broker::Stub> raw_stub(const SingleBroker& cluster) {
  return v1::Broker::NewStub(
      grpc::CreateChannel(cluster.broker.address(), grpc::InsecureChannelCredentials()));
}

// One batch of `records` records, each with `value`.
inline std::string batch_of(int records, const std::string& value = "v") {
  RecordBatchBuilder builder;
  for (int i = 0; i < records; ++i) builder.add(std::nullopt, value, {}, 1000 + i);
  return std::move(builder.build()).value();
}

inline v1::ProduceResponse produce_raw(v1::Broker::Stub& stub, const std::string& topic,
                                       int32_t partition, std::string batches,
                                       grpc::Status* rpc = nullptr) {
  v1::ProduceRequest request;
  auto* p = request.add_partitions();
  p->set_topic(topic);
  p->set_partition(partition);
  p->set_batches(std::move(batches));
  grpc::ClientContext context;
  v1::ProduceResponse response;
  grpc::Status status = stub.Produce(&context, request, &response);
  if (rpc) *rpc = status;
  return response;
}

inline v1::ErrorCode produce_error(v1::Broker::Stub& stub, const std::string& topic,
                                   int32_t partition, std::string batches) {
  grpc::Status rpc;
  auto response = produce_raw(stub, topic, partition, std::move(batches), &rpc);
  REQUIRE(rpc.ok());
  REQUIRE(response.results_size() == 1);
  return response.results(0).error().code();
}

}  // namespace cairn::testing
