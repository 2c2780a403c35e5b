// The consumer against a real broker serving data it cannot decode.

#include <filesystem>
#include <fstream>

#include "cluster_fixture.h"
#include "proto/batch_test_util.h"

using namespace cairn;
using namespace cairn::testing;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// In the (only) segment of a stopped broker's partition, breaks the first
// record's length in the batch at `base` and reseals the batch: its CRC is
// right, its records do not decode. The broker checks CRCs when it reads,
// not record framing, so it serves the batch as it is.
void break_records_of_batch(const std::string& partition_dir, Offset base) {
  std::string segment;
  for (const auto& entry : std::filesystem::directory_iterator(partition_dir)) {
    if (entry.path().extension() == ".log") segment = entry.path().string();
  }
  REQUIRE_FALSE(segment.empty());
  std::string bytes = read_file(segment);
  size_t position = 0;
  while (position < bytes.size()) {
    auto header = parse_batch_header(as_bytes(bytes).subspan(position), bytes.size());
    REQUIRE(header.ok());
    if (header->base_offset == base) {
      std::string batch = bytes.substr(position, header->size_bytes());
      batch[batch_format::kHeaderSize] = 0x02;  // zigzag varint 1: too short for any record
      reseal(batch);
      bytes.replace(position, batch.size(), batch);
      write_file(segment, bytes);
      return;
    }
    position += header->size_bytes();
  }
  FAIL("no batch at offset " << base.value << " in " << segment);
}

}  // namespace

TEST_CASE("UndecodableBatchIsReportedAtItsOffsetAndNeverSkipped", "[integration][consumer]") {
  SingleBroker cluster;
  cluster.create_topic("ledger", 1);
  auto producer = cluster.producer();
  for (int batch = 0; batch < 3; ++batch) {  // offsets [0, 3), [3, 6), [6, 9)
    for (int i = 0; i < 3; ++i) producer->send({"ledger", 0, std::nullopt, "v" + std::to_string(batch * 3 + i), {}, 0});
    producer->flush();
  }
  cluster.broker.stop();
  break_records_of_batch(cluster.broker.data_dir() + "/ledger/0", Offset(3));
  REQUIRE(cluster.broker.start().ok());

  TopicPartition tp{"ledger", 0};
  auto consumer = cluster.consumer(OffsetReset::earliest);
  REQUIRE(consumer->assign({tp}).ok());
  std::vector<Offset> delivered;
  auto poll_until_error = [&] {
    Status failure;
    CHECK(eventually([&] {
      auto records = consumer->poll(std::chrono::milliseconds(200));
      if (!records.ok()) failure = records.status();
      for (const auto& r : records.ok() ? *records : std::vector<ConsumerRecord>{}) delivered.push_back(r.record.offset);
      return !failure.ok();
    }, std::chrono::seconds(10)));
    return failure;
  };
  Status failure = poll_until_error();
  CHECK(delivered == std::vector<Offset>{Offset(0), Offset(1), Offset(2)});  // what precedes it first
  CHECK(failure.code() == ErrorCode::corrupt_batch);
  CHECK_THAT(failure.message(), Catch::Contains("ledger/0") && Catch::Contains("offset 3"));

  // Again at the next polls: the position stays at the batch.
  Status again = poll_until_error();
  CHECK(again.code() == ErrorCode::corrupt_batch);
  CHECK(delivered.size() == 3);
  CHECK(*consumer->position(tp) == Offset(3));

  // Skipping it is the application's call.
  REQUIRE(consumer->seek(tp, Offset(6)).ok());
  auto rest = consume(*consumer, 3);
  REQUIRE(rest.size() == 3);
  CHECK(rest.front().record.offset == Offset(6));
}

TEST_CASE("ConsumerReportsBrokersSilentForItsReconnectTimeoutAndGoesOn", "[integration][consumer]") {
  SingleBroker cluster;
  cluster.create_topic("quiet", 1);
  ConsumerOptions options;
  options.client = cluster.client_options();
  options.auto_offset_reset = OffsetReset::earliest;
  options.fetch_max_wait_ms = 100;
  options.reconnect_timeout_ms = 1'000;
  auto consumer = std::move(Consumer::create(options)).value();
  REQUIRE(consumer->assign({{"quiet", 0}}).ok());
  REQUIRE(consumer->poll(std::chrono::milliseconds(300)).ok());

  cluster.broker.kill();
  auto killed_at = std::chrono::steady_clock::now();
  Status failure;
  CHECK(eventually([&] {
    auto records = consumer->poll(std::chrono::milliseconds(200));
    failure = records.status();
    return !records.ok();
  }, std::chrono::seconds(10)));
  CHECK(std::chrono::steady_clock::now() - killed_at >= std::chrono::milliseconds(1'000));
  CHECK(failure.code() == ErrorCode::broker_unavailable);
  CHECK_THAT(failure.message(), Catch::Contains("no broker answered for 1000 ms"));

  // It kept retrying: once the broker is back, records flow again (the
  // report may come once more meanwhile).
  REQUIRE(cluster.broker.start().ok());
  REQUIRE(cluster.producer()->send({"quiet", 0, std::nullopt, "back", {}, 0}).get().ok());
  std::vector<ConsumerRecord> got;
  CHECK(eventually([&] {
    auto records = consumer->poll(std::chrono::milliseconds(200));
    if (records.ok()) got.insert(got.end(), records->begin(), records->end());
    return !got.empty();
  }, std::chrono::seconds(10)));
  REQUIRE(got.size() == 1);
  CHECK(got[0].record.value == "back");
}

TEST_CASE("SeekingATopicOrPartitionThatDoesNotExistFailsSoon", "[integration][consumer]") {
  SingleBroker cluster;
  cluster.create_topic("real", 1);
  ConsumerOptions options;
  options.client = cluster.client_options();  // a 10 s request timeout: retrying would take it all
  auto consumer = std::move(Consumer::create(options)).value();
  for (const TopicPartition& tp : {TopicPartition{"typo", 0}, TopicPartition{"real", 7}}) {
    REQUIRE(consumer->assign({tp}).ok());
    auto start = std::chrono::steady_clock::now();
    Status sought = consumer->seek_to_end({tp});
    INFO(fmt::format("{}: {}", tp, sought.to_string()));
    CHECK(sought.code() == ErrorCode::unknown_topic_or_partition);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));  // not the 10 s timeout
  }
}
