// The producer against a real broker that refuses, hangs, or is too small
// for what it is given.

#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "cluster_fixture.h"
#include "metrics_scrape.h"

using namespace cairn;
using namespace cairn::testing;

namespace {

// What the send callbacks saw, in the order they ran (the producer's I/O
// thread); checked on the test thread.
struct Acknowledgements {
  std::mutex mutex;
  std::map<int, Offset> offset_of;  // by send index
  OffThreadFailures failures;

  SendCallback callback(int index) {
    return [this, index](const Result<RecordMetadata>& r) {
      if (!failures.expect_ok(r.status(), "send " + std::to_string(index))) return;
      std::lock_guard lock(mutex);
      if (!offset_of.emplace(index, r->offset).second) {
        failures.add("send " + std::to_string(index) + " was acknowledged twice");
      }
    };
  }
};

}  // namespace

// A backlog bigger than one request (8 MiB) is split; the broker's in-flight
// byte bound then refuses (resource_exhausted, retriable) the middle request
// while the first waits for its flush and accepts the small last one. The
// refused records must still land before the last ones.
TEST_CASE("SplitRequestRetriedAfterARefusalKeepsPartitionOrder", "[integration][producer]") {
  SingleBroker cluster({"--max-inflight-produce-bytes", std::to_string(14 << 20)});
  // acks=all answers at the next interval flush: the first request stays in
  // flight (holding its bytes) while the others arrive.
  cluster.create_topic("ordered", 1, {{"flush.policy", "interval"}, {"flush.ms", "300"}});
  ProducerOptions options;
  options.client = cluster.client_options();
  options.batch_bytes = 1 << 20;
  options.linger_ms = 0;
  auto producer = std::move(Producer::create(options)).value();
  REQUIRE(producer->send({.topic = "ordered", .value = "warm-up", .partition = 0}).get().ok());

  // While the broker hangs, the first batch goes out and the rest (22 batches
  // of about 1 MiB) wait behind it, to be split once it is answered.
  constexpr int kRecords = 330;
  const std::string value(64 << 10, 'v');
  Acknowledgements acks;
  cluster.broker.pause();
  for (int i = 0; i < kRecords; ++i) {
    producer->send({.topic = "ordered", .value = std::to_string(i) + ":" + value, .partition = 0}, acks.callback(i));
  }
  cluster.broker.resume();
  producer->flush();
  CHECK_NO_OFF_THREAD_FAILURES(acks.failures);

  std::lock_guard lock(acks.mutex);
  REQUIRE(acks.offset_of.size() == kRecords);
  int out_of_order = -1;  // the first send not acknowledged right after the one before
  for (int i = 1; i < kRecords && out_of_order < 0; ++i) {
    if (acks.offset_of.at(i) != acks.offset_of.at(i - 1) + 1) out_of_order = i;
  }
  CHECK(out_of_order == -1);
  auto consumer = cluster.consumer();
  REQUIRE(consumer->assign({{"ordered", 0}}).ok());
  auto stored = consume(*consumer, kRecords + 1);
  REQUIRE(stored.size() == kRecords + 1);
  for (int i = 0; i < kRecords; ++i) {
    const auto& r = stored.at(static_cast<size_t>(acks.offset_of.at(i).value));
    CHECK(r.record.value->substr(0, r.record.value->find(':')) == std::to_string(i));
  }
}

// The broker refuses a gRPC message over --max-request-bytes by ending the
// whole stream: the producer must know the limit, fail a record that cannot
// fit at once, and split the rest into requests that fit.
TEST_CASE("RecordBeyondTheBrokersRequestLimitFailsAtOnceAndTheRestFits", "[integration][producer]") {
  SingleBroker cluster({"--max-request-bytes", "100000"});
  cluster.create_topic("small", 1, {{"max.message.bytes", "90000"}});
  auto producer = cluster.producer(Acks::all, /*delivery_timeout_ms=*/10'000);
  auto started = std::chrono::steady_clock::now();
  auto big = producer->send({.topic = "small", .value = std::string(150'000, 'x'), .partition = 0});
  REQUIRE(big.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(1));
  auto refused = big.get();
  CHECK(refused.status().code() == ErrorCode::record_too_large);
  CHECK_THAT(refused.status().message(), Catch::Contains("100000"));

  // 40 records of 10 KB: more than one request's worth, each fits.
  Acknowledgements acks;
  for (int i = 0; i < 40; ++i) {
    producer->send({.topic = "small", .value = std::to_string(i) + std::string(10'000, 'y'), .partition = 0}, acks.callback(i));
  }
  producer->flush();
  CHECK_NO_OFF_THREAD_FAILURES(acks.failures);
  std::lock_guard lock(acks.mutex);
  CHECK(acks.offset_of.size() == 40);
}

// Keyless records stick to one partition until a batch's worth of bytes
// went there (Kafka's uniform sticky partitioner), even when each record
// leaves at once (linger 0): switching whenever a batch was sent spread a
// trickle over every partition in batches of one record.
TEST_CASE("KeylessRecordsStayOnOnePartitionForABatchsWorthOfBytes", "[integration][producer]") {
  SingleBroker cluster;
  cluster.create_topic("spread", 6);
  ProducerOptions options;
  options.client = cluster.client_options();
  options.linger_ms = 0;
  options.batch_bytes = 16 * 1024;
  auto producer = std::move(Producer::create(options)).value();
  constexpr int kSent = 400;
  const std::string value(1'000, 'v');
  std::mutex mutex;
  std::vector<int32_t> partition_of(kSent, -1);
  OffThreadFailures failures;
  for (int i = 0; i < kSent; ++i) {
    producer->send({.topic = "spread", .value = value}, [&, i](const Result<RecordMetadata>& sent) {
      if (!failures.expect_ok(sent.status(), "send")) return;
      std::lock_guard lock(mutex);
      partition_of[static_cast<size_t>(i)] = sent->partition;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // each record sent on its own
  }
  producer->flush();
  CHECK_NO_OFF_THREAD_FAILURES(failures);

  // Runs of records on one partition, in send order: each but the last
  // holds at least the 15 records of ~1,030 bytes that fill 16 KiB.
  std::vector<int> runs{1};
  for (size_t i = 1; i < partition_of.size(); ++i) {
    if (partition_of[i] == partition_of[i - 1]) {
      ++runs.back();
    } else {
      runs.push_back(1);
    }
  }
  INFO("runs: " << fmt::format("{}", fmt::join(runs, ",")));
  for (size_t r = 0; r + 1 < runs.size(); ++r) CHECK(runs[r] >= 15);
  std::set<int32_t> used(partition_of.begin(), partition_of.end());
  CHECK(used.size() >= 4);  // spread over the partitions all the same
}

// A fast stream fills a batch's worth of bytes in a few ms; moving to
// another partition that often restarts each partition's requests from
// small ones. The records also stay sticky_partition_ms on a partition.
TEST_CASE("KeylessRecordsAlsoStayOnOnePartitionForStickyPartitionMs", "[integration][producer]") {
  SingleBroker cluster;
  cluster.create_topic("sticky", 6);
  // The partitions a burst of 50 records (each over batch_bytes) goes to.
  auto partitions_used = [&](int32_t sticky_partition_ms) {
    ProducerOptions options;
    options.client = cluster.client_options();
    options.linger_ms = 0;
    options.batch_bytes = 1024;
    options.sticky_partition_ms = sticky_partition_ms;
    auto producer = std::move(Producer::create(options)).value();
    std::vector<std::future<Result<RecordMetadata>>> sent;
    for (int i = 0; i < 50; ++i) sent.push_back(producer->send({.topic = "sticky", .value = std::string(1'100, 'v')}));
    std::set<int32_t> used;
    for (auto& s : sent) used.insert(s.get().value().partition);
    return used.size();
  };
  CHECK(partitions_used(60'000) == 1);
  CHECK(partitions_used(0) >= 4);  // the bytes alone move them after each record
}

// As Nagle's rule keeps one small segment unacknowledged: while a
// partition's request waits for its (slow) sync, records that fill no
// batch wait too, and leave together in one request; a full batch goes at
// once. The broker's log end shows what arrived before the first answer.
TEST_CASE("APartitionHasOneRequestInFlightUntilABatchIsFull", "[integration][producer]") {
  using namespace std::chrono_literals;
  int port = pick_free_port();
  SingleBroker cluster({"--test-sync-delay-ms", "1500", "--metrics-listen", fmt::format("127.0.0.1:{}", port)});
  cluster.create_topic("nagle", 1);
  auto metric = [&](const std::string& series) {
    auto text = scrape_metrics(port, 5s);
    return text ? metric_sample(*text, series) : -2;
  };
  const std::string log_end = R"(cairn_partition_log_end_offset{topic="nagle",partition="0"})";
  const std::string requests = "cairn_produce_request_seconds_count";
  ProducerOptions options;
  options.client = cluster.client_options();
  options.linger_ms = 0;
  options.batch_bytes = 64 * 1024;
  auto producer = std::move(Producer::create(options)).value();
  auto send = [&](size_t bytes) { return producer->send({.topic = "nagle", .value = std::string(bytes, 'n'), .partition = 0}); };

  REQUIRE(send(100).get().ok());  // the producer has its id and the partition's leader

  // Small records behind an unanswered request wait for it.
  double requests_before = metric(requests);
  auto first = send(100);
  std::this_thread::sleep_for(200ms);  // it is at the broker, waiting for its sync
  std::vector<std::future<Result<RecordMetadata>>> small;
  for (int i = 0; i < 20; ++i) small.push_back(send(100));
  std::this_thread::sleep_for(500ms);
  CHECK(first.wait_for(0s) == std::future_status::timeout);
  CHECK(metric(log_end) == 2);  // only the first arrived
  REQUIRE(first.get().ok());
  for (auto& s : small) REQUIRE(s.get().ok());
  CHECK(metric(requests) - requests_before == 2);

  // A full batch does not wait.
  first = send(100);
  std::this_thread::sleep_for(200ms);
  std::vector<std::future<Result<RecordMetadata>>> large;
  for (int i = 0; i < 70; ++i) large.push_back(send(1000));  // over a batch's 64 KiB
  bool arrived = false;
  for (int i = 0; i < 50 && !arrived; ++i) {
    arrived = metric(log_end) > 23 + 60;  // a full batch's 60-odd records beside the first
    if (!arrived) std::this_thread::sleep_for(10ms);
  }
  CHECK(arrived);
  CHECK(first.wait_for(0s) == std::future_status::timeout);
  REQUIRE(first.get().ok());
  for (auto& l : large) REQUIRE(l.get().ok());
}
