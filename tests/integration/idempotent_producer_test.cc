// The idempotent producer against a real broker that loses
// acknowledgements (--test-drop-produce-responses-every: the records are
// appended, the answer never sent): the producer's retries write nothing
// twice and keep each partition in send order; without idempotence the
// same losses write duplicates, which shows the check can fail.

#include <chrono>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "cluster_fixture.h"
#include "local_cluster.h"
#include "raw_broker.h"

using namespace cairn;
using namespace cairn::testing;

namespace {

constexpr int32_t kPartitions = 2;

// How the records are sent: in rounds of `per_round`, each flushed.
struct Load {
  int rounds = 20;
  int per_round = 100;
  int32_t batch_bytes = 1'024;  // many batches, so many answers to lose
  size_t value_bytes = 0;       // values are the index, padded to this
  // Shorter than a lost answer takes to notice (request timeout + 1 s):
  // sends may fail, and Outcome::failed says how.
  int32_t delivery_timeout_ms = 120'000;
  int records() const { return rounds * per_round; }
  std::string value(int i) const {
    std::string v = std::to_string(i);
    if (v.size() < value_bytes) v.append(value_bytes - v.size(), 'x');
    return v;
  }
};
const int kRecords = Load{}.records();

struct Outcome {
  std::map<std::string, int64_t> copies;  // value -> records holding it
  size_t stored = 0;
  bool in_send_order = true;  // per partition, values rise
  size_t acknowledged = 0;
  size_t acknowledged_where_stored = 0;  // the offset given holds the value
  std::map<int, ErrorCode> failed;       // value -> why its send failed
};

// Sends unique values (their index) to kPartitions partitions in rounds
// (each waited for) through a broker that drops every 5th produce answer,
// then reads back everything the topic holds.
Outcome send_through_lost_acknowledgements(bool idempotent, Load load = {}) {
  SingleBroker cluster({"--test-drop-produce-responses-every", "5"});
  cluster.create_topic("jobs", kPartitions);
  ProducerOptions options;
  options.client = cluster.client_options();
  // A dropped answer costs this (plus a second) before the stream is
  // given up and its requests retried.
  options.client.request_timeout_ms = 500;
  options.client.retry_backoff_ms = 10;
  options.batch_bytes = load.batch_bytes;
  options.linger_ms = 1;
  options.delivery_timeout_ms = load.delivery_timeout_ms;
  options.enable_idempotence = idempotent;
  auto producer = std::move(Producer::create(options)).value();

  Outcome outcome;
  std::mutex mutex;
  std::map<int, std::pair<int32_t, Offset>> acknowledged;  // value -> where
  for (int i = 0; i < load.records(); ++i) {
    producer->send({.topic = "jobs", .value = load.value(i), .partition = i % kPartitions},
                   [&, i](const Result<RecordMetadata>& sent) {
                     std::lock_guard lock(mutex);
                     if (sent.ok()) {
                       acknowledged[i] = {sent->partition, sent->offset};
                     } else {
                       outcome.failed[i] = sent.status().code();
                     }
                   });
    if ((i + 1) % load.per_round == 0) producer->flush();
  }

  std::ifstream log(cluster.broker.log_path());
  std::string lines((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  size_t drops = 0;
  for (size_t at = lines.find("dropping a produce response"); at != std::string::npos;
       at = lines.find("dropping a produce response", at + 1)) {
    ++drops;
  }
  INFO(drops << " acknowledgements dropped");
  CHECK(drops >= 3);

  auto consumer = cluster.consumer();
  REQUIRE(consumer->assign({{"jobs", 0}, {"jobs", 1}}).ok());
  auto records = consume(*consumer, static_cast<size_t>(load.records()) * 2, std::chrono::seconds(2));
  std::map<int32_t, int> last_value;
  std::map<std::pair<int32_t, int64_t>, std::string> stored_at;
  for (const auto& r : records) {
    const std::string& value = *r.value();
    ++outcome.copies[value];
    stored_at[{r.partition, r.offset().value}] = value;
    int number = std::stoi(value);
    auto [last, first] = last_value.try_emplace(r.partition, number);
    if (!first) {
      if (number <= last->second) outcome.in_send_order = false;
      last->second = number;
    }
  }
  outcome.stored = records.size();
  outcome.acknowledged = acknowledged.size();
  for (const auto& [value, where] : acknowledged) {
    auto it = stored_at.find({where.first, where.second.value});
    if (it != stored_at.end() && it->second == load.value(value)) ++outcome.acknowledged_where_stored;
  }
  return outcome;
}

// A producer that gives up on a silent broker quickly: a request
// unanswered for 500 ms (plus a second), a record after `delivery_timeout_ms`.
ProducerOptions impatient(const SingleBroker& cluster, int32_t delivery_timeout_ms) {
  ProducerOptions options;
  options.client = cluster.client_options();
  options.client.request_timeout_ms = 500;
  options.delivery_timeout_ms = delivery_timeout_ms;
  options.linger_ms = 0;
  return options;
}

size_t duplicated(const Outcome& outcome) {
  size_t extra = 0;
  for (const auto& [value, copies] : outcome.copies) extra += static_cast<size_t>(copies - 1);
  return extra;
}

}  // namespace

TEST_CASE("AnIdempotentProducerRetriesLostAcknowledgementsWithoutDuplicates", "[integration][producer][idempotence]") {
  Outcome outcome = send_through_lost_acknowledgements(true);
  CHECK(outcome.failed.empty());
  CHECK(outcome.acknowledged == kRecords);
  CHECK(outcome.copies.size() == kRecords);  // every value stored...
  CHECK(duplicated(outcome) == 0);          // ...once
  CHECK(outcome.stored == kRecords);
  CHECK(outcome.in_send_order);
  // Each acknowledgement names the offset that holds the record, the
  // retried ones too (answered with where the first attempt landed).
  CHECK(outcome.acknowledged_where_stored == kRecords);
}

// Batches of four records, a backlog of hundreds per partition: up to four
// full requests of a partition are in flight at once (kMaxSendsInFlight),
// and lost answers hit any of them. Nothing is written twice or out of
// order, and every acknowledgement names where its record is.
TEST_CASE("RequestsOfAPartitionInFlightKeepOrderThroughLostAcknowledgements",
          "[integration][producer][idempotence]") {
  Load load{.rounds = 3, .per_round = 2'000, .batch_bytes = 1'024, .value_bytes = 200};
  Outcome outcome = send_through_lost_acknowledgements(true, load);
  const auto records = static_cast<size_t>(load.records());
  CHECK(outcome.failed.empty());
  CHECK(outcome.acknowledged == records);
  CHECK(outcome.copies.size() == records);
  CHECK(duplicated(outcome) == 0);
  CHECK(outcome.stored == records);
  CHECK(outcome.in_send_order);
  CHECK(outcome.acknowledged_where_stored == records);
}

// The same, with a delivery timeout shorter than a lost answer takes to
// notice: sends whose answer was lost fail. One that went before a send
// that landed is in the log (the broker takes a producer's batches in
// sequence), so it fails as duplicate_sequence (written, offsets unknown),
// not as a send that may never have arrived, and costs no new epoch.
TEST_CASE("ABatchWrittenBeforeALaterOneFailsAsWrittenWhenItsDeliveryTimeoutPasses",
          "[integration][producer][idempotence]") {
  Load load{.rounds = 2, .per_round = 1'500, .batch_bytes = 1'024, .value_bytes = 200,
            .delivery_timeout_ms = 1'200};
  Outcome outcome = send_through_lost_acknowledgements(true, load);
  size_t written = 0;
  for (const auto& [value, code] : outcome.failed) {
    if (code != ErrorCode::duplicate_sequence) continue;  // others may or may not be written
    INFO("value " << value << " failed with " << error_code_name(code));
    ++written;
    CHECK(outcome.copies[load.value(value)] == 1);
  }
  CHECK(written > 0);
  CHECK(duplicated(outcome) == 0);
  CHECK(outcome.in_send_order);
  CHECK(outcome.acknowledged_where_stored == outcome.acknowledged);
  CHECK(outcome.acknowledged + outcome.failed.size() == static_cast<size_t>(load.records()));
}

TEST_CASE("WithoutIdempotenceTheSameLostAcknowledgementsWriteDuplicates", "[integration][producer][idempotence]") {
  Outcome outcome = send_through_lost_acknowledgements(false);
  CHECK(outcome.copies.size() == kRecords);
  CHECK(duplicated(outcome) > 0);
}

// A batch that fails for good (its delivery timeout passes while the
// broker hangs) leaves its sequence numbers unaccounted for: the producer
// starts a new epoch and carries on, without a gap refused forever and
// without writing anything twice.
TEST_CASE("AnIdempotentProducerCarriesOnAfterABatchTimedOut", "[integration][producer][idempotence]") {
  SingleBroker cluster;
  cluster.create_topic("jobs", 1);
  auto producer = std::move(Producer::create(impatient(cluster, 1'500))).value();
  auto a = producer->send({.topic = "jobs", .value = "a", .partition = 0}).get();
  REQUIRE(a.ok());

  cluster.broker.pause();
  auto b = producer->send({.topic = "jobs", .value = "b", .partition = 0}).get();
  INFO(b.status().to_string());
  CHECK_FALSE(b.ok());
  cluster.broker.resume();

  auto c = producer->send({.topic = "jobs", .value = "c", .partition = 0}).get();
  INFO(c.status().to_string());
  REQUIRE(c.ok());
  auto d = producer->send({.topic = "jobs", .value = "d", .partition = 0}).get();
  REQUIRE(d.ok());
  CHECK(d->offset == c->offset + 1);

  auto consumer = cluster.consumer();
  REQUIRE(consumer->assign({{"jobs", 0}}).ok());
  std::vector<std::string> values;
  for (const auto& r : consume(*consumer, 5, std::chrono::seconds(2))) values.push_back(*r.value());
  // b may have landed before its request was given up on; nothing twice.
  std::vector<std::string> expected = values.size() == 4 ? std::vector<std::string>{"a", "b", "c", "d"}
                                                         : std::vector<std::string>{"a", "c", "d"};
  CHECK(values == expected);
}

// A producer allowed one request per broker keeps two of a partition's
// sends ready (the second carries a full batch, so it may go beside the
// first): the second waits for the first's answer, which a paused broker
// never sends. Giving up on the hung broker must not wait behind it.
TEST_CASE("AProducerAtItsRequestLimitStillGivesUpOnAHungBroker", "[integration][producer][idempotence]") {
  SingleBroker cluster;
  cluster.create_topic("jobs", 1);
  ProducerOptions options = impatient(cluster, 3'000);
  options.max_in_flight_requests = 1;
  options.batch_bytes = 1024;
  auto producer = std::move(Producer::create(options)).value();
  REQUIRE(producer->send({.topic = "jobs", .value = "a", .partition = 0}).get().ok());

  cluster.broker.pause();
  auto b = producer->send({.topic = "jobs", .value = "b", .partition = 0});
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // b is in flight
  auto c = producer->send({.topic = "jobs", .value = std::string(2'000, 'c'), .partition = 0});
  bool b_answered = b.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
  bool c_answered = c.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
  cluster.broker.resume();
  CHECK(b_answered);
  CHECK(c_answered);
  if (b_answered) CHECK_FALSE(b.get().ok());
  auto d = producer->send({.topic = "jobs", .value = "d", .partition = 0}).get();
  INFO(d.status().to_string());
  CHECK(d.ok());
}

namespace {

// `count` records "<tag>-<i>" of producer `id`, its first sequence `sequence`.
std::string sequenced_batch(int64_t id, int32_t sequence, int count, const std::string& tag) {
  RecordBatchBuilder builder;
  for (int i = 0; i < count; ++i) builder.add(std::nullopt, tag + "-" + std::to_string(i), {}, 1'000 + i);
  builder.set_producer(id, 0, sequence);
  return std::move(builder.build()).value();
}

// One acks=all request with an entry per batch, all to partition 0 of
// `topic`, and its answer.
v1::ProduceResponse answer_to_entries(v1::Broker::Stub& stub, const std::string& topic,
                                      const std::vector<std::string>& batches) {
  v1::ProduceRequest request;
  request.set_acks(v1::ACKS_ALL);
  for (const auto& batch : batches) {
    auto* entry = request.add_partitions();
    entry->set_topic(topic);
    entry->set_partition(0);
    entry->set_batches(batch);
  }
  grpc::ClientContext context;
  v1::ProduceResponse response;
  REQUIRE(stub.Produce(&context, request, &response).ok());
  REQUIRE(response.results_size() == static_cast<int>(batches.size()));
  return response;
}

// The same, all written: the [base, last] offsets each entry was answered with.
std::vector<std::pair<int64_t, int64_t>> produce_entries(v1::Broker::Stub& stub, const std::string& topic,
                                                         const std::vector<std::string>& batches) {
  v1::ProduceResponse response = answer_to_entries(stub, topic, batches);
  std::vector<std::pair<int64_t, int64_t>> offsets;
  for (const auto& result : response.results()) {
    INFO(result.error().message());
    REQUIRE(result.error().code() == v1::NONE);
    offsets.emplace_back(result.base_offset(), result.last_offset());
  }
  return offsets;
}

using Offsets = std::vector<std::pair<int64_t, int64_t>>;

}  // namespace

// A producer sends each batch as its own entry, and the broker appends a
// partition's entries of one request together. Each entry is still
// answered with its own offsets: new ones, retries of batches first
// written apart (another producer's between them), and a retry followed by
// new batches; nothing is written twice.
TEST_CASE("APartitionsEntriesInOneRequestAreEachAnsweredWithTheirOwnOffsets", "[integration][idempotence]") {
  SingleBroker cluster;
  cluster.create_topic("entries", 1);
  auto stub = raw_stub(cluster);
  const int64_t p = 7, q = 8;  // two producers
  std::string a = sequenced_batch(p, 0, 3, "a"), b = sequenced_batch(p, 3, 2, "b");
  std::string c = sequenced_batch(p, 5, 2, "c"), d = sequenced_batch(p, 7, 1, "d");
  std::string e = sequenced_batch(p, 8, 2, "e");
  CHECK(produce_entries(*stub, "entries", {a, b}) == Offsets{{0, 2}, {3, 4}});
  CHECK(produce_entries(*stub, "entries", {sequenced_batch(q, 0, 1, "x")}) == Offsets{{5, 5}});
  CHECK(produce_entries(*stub, "entries", {c, d}) == Offsets{{6, 7}, {8, 8}});
  CHECK(produce_entries(*stub, "entries", {b, c}) == Offsets{{3, 4}, {6, 7}});  // apart in the log
  CHECK(produce_entries(*stub, "entries", {c, d}) == Offsets{{6, 7}, {8, 8}});  // together
  CHECK(produce_entries(*stub, "entries", {d, e}) == Offsets{{8, 8}, {9, 10}});  // a retry, then new
  CHECK(produce_entries(*stub, "entries", {batch_of(2), batch_of(1)}) == Offsets{{11, 12}, {13, 13}});

  auto consumer = cluster.consumer();
  REQUIRE(consumer->assign({{"entries", 0}}).ok());
  std::vector<std::string> values;
  for (int polls = 0; polls < 50 && values.size() < 14; ++polls) {
    auto records = consumer->poll(std::chrono::milliseconds(100));
    REQUIRE(records.ok());
    for (const auto& record : *records) values.push_back(record.value().value_or(""));
  }
  CHECK(values == std::vector<std::string>{"a-0", "a-1", "a-2", "b-0", "b-1", "x-0", "c-0", "c-1", "d-0",
                                           "e-0", "e-1", "v", "v", "v"});
}

// A damaged batch among a partition's entries of one request is refused
// alone: the entries around it are written, each at its own offsets, as
// if each had been sent alone.
TEST_CASE("ADamagedEntryAmongAPartitionsEntriesIsRefusedAlone", "[integration][idempotence]") {
  SingleBroker cluster;
  cluster.create_topic("damaged", 1);
  auto stub = raw_stub(cluster);
  std::string damaged = batch_of(2);
  damaged.back() ^= 0x01;  // its CRC no longer matches
  auto response = answer_to_entries(*stub, "damaged", {batch_of(1), damaged, batch_of(3)});
  CHECK(response.results(0).error().code() == v1::NONE);
  CHECK(response.results(0).base_offset() == 0);
  CHECK(response.results(1).error().code() == v1::CORRUPT_BATCH);
  CHECK(response.results(2).error().code() == v1::NONE);
  CHECK(response.results(2).base_offset() == 1);
  CHECK(response.results(2).last_offset() == 3);
}

// A request refused whole, nothing written (a leader that stepped down as
// it arrived), while later ones of the partition are in flight: those are
// refused as out of order, and go again behind it under their own stamps.
// Every record lands once and in order, and the producer keeps its epoch:
// a new one would restart every partition's sequences.
TEST_CASE("RequestsRefusedBehindARefusedOneGoAgainWithoutANewEpoch", "[integration][producer][idempotence]") {
  SingleBroker cluster({"--test-refuse-produce-every", "7"});
  cluster.create_topic("refused", 1);
  OffThreadFailures failures;  // before the producer, which calls back into it
  ProducerOptions options;
  options.client = cluster.client_options();
  options.batch_bytes = 1'024;  // many requests of a partition in flight
  options.linger_ms = 0;
  auto created = Producer::create(options);
  REQUIRE(created.ok());
  auto producer = std::move(*created);
  constexpr int kSent = 20'000;
  for (int i = 0; i < kSent; ++i) {
    producer->send({.topic = "refused", .value = fmt::format("{:08}-{}", i, std::string(200, 'v')), .partition = 0},
                   [&failures](const Result<RecordMetadata>& sent) { failures.expect_ok(sent.status(), "send"); });
  }
  producer->flush();
  CHECK_NO_OFF_THREAD_FAILURES(failures);

  auto consumer = cluster.consumer();
  REQUIRE(consumer->assign({{"refused", 0}}).ok());
  std::vector<std::string> values;
  for (int polls = 0; polls < 200 && values.size() < kSent; ++polls) {
    auto records = consumer->poll(std::chrono::milliseconds(100));
    REQUIRE(records.ok());
    for (const auto& record : *records) values.push_back(record.value().value_or(""));
  }
  CHECK(values.size() == kSent);
  CHECK(std::is_sorted(values.begin(), values.end()));
  CHECK(std::adjacent_find(values.begin(), values.end()) == values.end());
  auto epochs = LocalCluster::producer_epochs(cluster.broker, "refused", 0);
  INFO("batches per producer epoch " << fmt::format("{}", epochs));
  REQUIRE(epochs.size() == 1);
  CHECK(epochs.begin()->first == 0);
}
