// The consumer against a real broker serving data it cannot decode.

#include <filesystem>
#include <fstream>
#include <thread>

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
    for (int i = 0; i < 3; ++i) producer->send({.topic = "ledger", .value = "v" + std::to_string(batch * 3 + i), .partition = 0});
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
  REQUIRE(cluster.producer()->send({.topic = "quiet", .value = "back", .partition = 0}).get().ok());
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

TEST_CASE("APausedPartitionIsNeitherFetchedNorHandedOutUntilResumed", "[integration][consumer]") {
  SingleBroker cluster;
  cluster.create_topic("flow", 2);
  auto producer = cluster.producer();
  for (int i = 0; i < 6; ++i) {
    REQUIRE(producer->send({.topic = "flow", .value = "v" + std::to_string(i), .partition = i % 2}).get().ok());
  }
  ConsumerOptions options;
  options.client = cluster.client_options();
  options.auto_offset_reset = OffsetReset::earliest;
  options.fetch_max_wait_ms = 100;
  options.max_poll_records = 1;  // the rest of a fetch waits in the consumer, not handed out
  auto consumer = std::move(Consumer::create(options)).value();
  TopicPartition fast{"flow", 0}, held{"flow", 1};
  REQUIRE(consumer->assign({fast, held}).ok());
  CHECK(consumer->pause({{"flow", 9}}).code() == ErrorCode::invalid_request);

  // Both partitions fetched; one record handed out, the others waiting.
  std::vector<ConsumerRecord> got;
  REQUIRE(eventually([&] {
    auto records = consumer->poll(std::chrono::milliseconds(300));
    if (records.ok()) got.insert(got.end(), records->begin(), records->end());
    return !got.empty();
  }, std::chrono::seconds(10)));
  // Paused with records of its own fetched: none of them is handed out.
  TopicPartition pause_this = got.front().partition == 0 ? held : fast;
  int other = pause_this.partition == 0 ? 1 : 0;
  Offset paused_at = *consumer->position(pause_this);
  REQUIRE(consumer->pause({pause_this}).ok());
  CHECK(consumer->paused() == std::vector<TopicPartition>{pause_this});
  for (int polls = 0; polls < 10; ++polls) {  // longer than a fetch's wait: anything would have come
    auto records = consumer->poll(std::chrono::milliseconds(200));
    REQUIRE(records.ok());
    got.insert(got.end(), records->begin(), records->end());
  }
  REQUIRE(got.size() == 3);
  for (const auto& r : got) CHECK(r.partition == other);
  CHECK(*consumer->position(pause_this) == paused_at);

  // Resumed: from where it stood, nothing skipped.
  REQUIRE(consumer->resume({pause_this}).ok());
  CHECK(consumer->paused().empty());
  auto resumed = consume(*consumer, 3);
  REQUIRE(resumed.size() == 3);
  for (int i = 0; i < 3; ++i) {
    CHECK(resumed[i].partition == pause_this.partition);
    CHECK(resumed[i].offset() == Offset(i));
  }
}

TEST_CASE("WakeupInterruptsABlockedPollFromAnotherThread", "[integration][consumer]") {
  SingleBroker cluster;
  cluster.create_topic("idle", 1);
  auto consumer = cluster.consumer();
  REQUIRE(consumer->assign({{"idle", 0}}).ok());

  auto start = std::chrono::steady_clock::now();
  std::thread waker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    consumer->wakeup();
  });
  auto blocked = consumer->poll(std::chrono::seconds(20));
  waker.join();
  auto waited = std::chrono::steady_clock::now() - start;
  CHECK(blocked.status().code() == ErrorCode::woken_up);
  CHECK(waited >= std::chrono::milliseconds(300));
  CHECK(waited < std::chrono::seconds(10));

  // Once reported, polls wait again; a wakeup with no poll running is
  // reported by the next one, at once.
  auto quiet = consumer->poll(std::chrono::milliseconds(300));
  REQUIRE(quiet.ok());
  CHECK(quiet->empty());
  consumer->wakeup();
  start = std::chrono::steady_clock::now();
  CHECK(consumer->poll(std::chrono::seconds(20)).status().code() == ErrorCode::woken_up);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
}

TEST_CASE("AGroupConsumerClosesWithinItsTimeoutWhenTheBrokerIsGone", "[integration][consumer]") {
  SingleBroker cluster;
  cluster.create_topic("orders", 1);
  ConsumerOptions options;
  options.client = cluster.client_options();
  options.client.request_timeout_ms = 20'000;  // what close() would otherwise wait per request
  options.group_id = "billing";
  options.auto_offset_reset = OffsetReset::earliest;
  options.fetch_max_wait_ms = 100;
  auto consumer = std::move(Consumer::create(options)).value();
  REQUIRE(consumer->subscribe({"orders"}).ok());
  REQUIRE(cluster.producer()->send({.topic = "orders", .value = "o1"}).get().ok());
  std::vector<ConsumerRecord> got;
  REQUIRE(eventually([&] {
    auto records = consumer->poll(std::chrono::milliseconds(200));
    if (records.ok()) got.insert(got.end(), records->begin(), records->end());
    return !got.empty();
  }, std::chrono::seconds(15)));

  cluster.broker.pause();  // hangs: unanswered requests wait for their deadline
  auto start = std::chrono::steady_clock::now();
  consumer->close(std::chrono::milliseconds(1'000));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  cluster.broker.resume();
}
