#include <map>
#include <set>
#include <thread>

#include "cluster_fixture.h"

using namespace cairn;
using namespace cairn::testing;

TEST_CASE("RoundTripOverManyPartitionsKeepsOrderAndContent", "[integration]") {
  SingleBroker cluster;
  cluster.create_topic("orders", 6);
  auto producer = cluster.producer();
  constexpr int kRecords = 3000;
  std::vector<std::future<Result<RecordMetadata>>> sent;
  for (int i = 0; i < kRecords; ++i) {
    ProducerRecord record;
    record.topic = "orders";
    record.key = "customer-" + std::to_string(i % 37);
    record.value = "order-" + std::to_string(i);
    record.headers = {{"seq", std::to_string(i)}, {"empty", std::nullopt}};
    record.timestamp_ms = 1'700'000'000'000 + i;
    sent.push_back(producer->send(std::move(record)));
  }
  producer->flush();
  std::map<std::string, int32_t> partition_of_key;
  for (int i = 0; i < kRecords; ++i) {
    auto metadata = sent[static_cast<size_t>(i)].get();
    INFO(metadata.status().to_string());
    REQUIRE(metadata.ok());
    std::string key = "customer-" + std::to_string(i % 37);
    CHECK(metadata->partition == partition_for_key(key, 6));
    auto [it, inserted] = partition_of_key.emplace(key, metadata->partition);
    CHECK(it->second == metadata->partition);
  }

  auto consumer = cluster.consumer();
  std::vector<TopicPartition> all;
  for (int32_t p = 0; p < 6; ++p) all.push_back({"orders", p});
  REQUIRE(consumer->assign(all).ok());
  auto records = consume(*consumer, kRecords);
  REQUIRE(records.size() == kRecords);
  std::map<int32_t, int64_t> next_offset;
  std::map<int32_t, int> last_seq;
  std::set<int> seen;
  for (const auto& r : records) {
    CHECK(r.record.offset.value == next_offset[r.partition]);
    next_offset[r.partition] = r.record.offset.value + 1;
    int seq = std::stoi(r.record.headers.at(0).value.value());
    CHECK(r.record.value == "order-" + std::to_string(seq));
    CHECK(r.record.key == "customer-" + std::to_string(seq % 37));
    CHECK(r.record.timestamp_ms == 1'700'000'000'000 + seq);
    CHECK_FALSE(r.record.headers.at(1).value.has_value());
    CHECK(partition_of_key.at(*r.record.key) == r.partition);
    // Per key (hence per partition) records come in send order.
    auto [it, first] = last_seq.emplace(r.partition, seq);
    if (!first) CHECK(seq > it->second);
    it->second = seq;
    seen.insert(seq);
  }
  CHECK(seen.size() == kRecords);
}

TEST_CASE("ReplayFromOffsetAndFromTimestampReturnsTheSuffix", "[integration]") {
  SingleBroker cluster;
  cluster.create_topic("events", 1);
  auto producer = cluster.producer();
  OffThreadFailures failures;
  for (int i = 0; i < 500; ++i) {
    ProducerRecord record{.topic = "events", .value = "e" + std::to_string(i), .partition = 0,
                          .timestamp_ms = 5'000'000 + 10 * i};
    producer->send(std::move(record), [&](const Result<RecordMetadata>& r) { failures.expect_ok(r.status(), "send"); });
  }
  producer->flush();
  REQUIRE(failures.empty());
  TopicPartition tp{"events", 0};
  auto consumer = cluster.consumer();
  REQUIRE(consumer->assign({tp}).ok());

  REQUIRE(consumer->seek(tp, Offset(123)).ok());
  auto from_offset = consume(*consumer, 377);
  REQUIRE(from_offset.size() == 377);
  CHECK(from_offset.front().record.offset == Offset(123));
  CHECK(from_offset.back().record.value == "e499");

  REQUIRE(consumer->seek_to_time({tp}, 5'000'000 + 10 * 250 - 5).ok());
  CHECK(*consumer->position(tp) == Offset(250));
  auto from_time = consume(*consumer, 250);
  REQUIRE(from_time.size() == 250);
  CHECK(from_time.front().record.value == "e250");

  REQUIRE(consumer->seek_to_beginning({tp}).ok());
  CHECK(consume(*consumer, 500).size() == 500);
  REQUIRE(consumer->seek_to_end({tp}).ok());
  CHECK(*consumer->position(tp) == Offset(500));
  CHECK(consumer->poll(std::chrono::milliseconds(300))->empty());
}

TEST_CASE("SeveralProducersAndConsumersAtOnceLoseAndReorderNothing", "[integration]") {
  SingleBroker cluster;
  cluster.create_topic("busy", 4);
  constexpr int kProducers = 3;
  constexpr int kPerProducer = 2000;
  OffThreadFailures failures;
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      auto producer = cluster.producer(p == 0 ? Acks::leader : Acks::all);
      for (int i = 0; i < kPerProducer; ++i) {
        ProducerRecord record{.topic = "busy", .key = "p" + std::to_string(p) + "-" + std::to_string(i % 8),
                              .value = std::to_string(i)};
        producer->send(std::move(record), [&](const Result<RecordMetadata>& r) {
          failures.expect_ok(r.status(), "send");
        });
      }
      producer->flush();
    });
  }
  // Two consumers read all partitions while the producers run.
  std::vector<std::vector<ConsumerRecord>> got(2);
  std::vector<std::thread> consumers;
  for (int c = 0; c < 2; ++c) {
    consumers.emplace_back([&, c] {
      auto consumer = cluster.consumer();
      std::vector<TopicPartition> all;
      for (int32_t p = 0; p < 4; ++p) all.push_back({"busy", p});
      if (!failures.expect_ok(consumer->assign(all), "assign")) return;
      got[c] = consume(*consumer, kProducers * kPerProducer, std::chrono::seconds(10), &failures);
    });
  }
  for (auto& t : producers) t.join();
  for (auto& t : consumers) t.join();
  CHECK_NO_OFF_THREAD_FAILURES(failures);
  for (const auto& records : got) {
    REQUIRE(records.size() == kProducers * kPerProducer);
    std::map<std::string, int> last;  // per key: values increase
    std::map<int32_t, int64_t> next_offset;
    for (const auto& r : records) {
      CHECK(r.record.offset.value == next_offset[r.partition]);
      next_offset[r.partition] = r.record.offset.value + 1;
      int value = std::stoi(*r.record.value);
      auto [it, first] = last.emplace(*r.record.key, value);
      if (!first) CHECK(value > it->second);
      it->second = value;
    }
  }
}

TEST_CASE("ARecordStampedAtTimeZeroKeepsItAndOneWithoutATimeGetsNow", "[integration]") {
  SingleBroker cluster;
  cluster.create_topic("epoch", 1);
  auto producer = cluster.producer();
  auto before = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch()).count();
  REQUIRE(producer->send({.topic = "epoch", .value = "at zero", .timestamp_ms = 0}).get().ok());
  REQUIRE(producer->send({.topic = "epoch", .value = "now"}).get().ok());
  auto after = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch()).count();
  auto consumer = cluster.consumer();
  REQUIRE(consumer->assign({{"epoch", 0}}).ok());
  auto records = consume(*consumer, 2);
  REQUIRE(records.size() == 2);
  CHECK(records[0].value() == "at zero");
  CHECK(records[0].timestamp_ms() == 0);
  CHECK(records[1].value() == "now");
  CHECK(records[1].timestamp_ms() >= before);
  CHECK(records[1].timestamp_ms() <= after);
}
