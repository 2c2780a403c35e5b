#include <atomic>
#include <fstream>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "cairn/v1/broker.grpc.pb.h"
#include "cluster_fixture.h"
#include "raw_broker.h"
#include "proto/byte_io.h"
#include "proto/control_batch.h"
#include "proto/record_batch_format.h"

using namespace cairn;
using namespace cairn::testing;

TEST_CASE("BadInputGetsTypedErrorsAndTheBrokerKeepsServing", "[integration]") {
  SingleBroker cluster;
  cluster.create_topic("strict", 1, {{"max.message.bytes", "2048"}});
  auto stub = raw_stub(cluster);

  CHECK(produce_error(*stub, "nope", 0, batch_of(1)) == v1::UNKNOWN_TOPIC_OR_PARTITION);
  CHECK(produce_error(*stub, "strict", 7, batch_of(1)) == v1::UNKNOWN_TOPIC_OR_PARTITION);
  CHECK(produce_error(*stub, "strict", 0, batch_of(1, std::string(4000, 'x'))) == v1::RECORD_TOO_LARGE);
  std::string bad_crc = batch_of(3);
  bad_crc.back() ^= 0x01;
  CHECK(produce_error(*stub, "strict", 0, bad_crc) == v1::CORRUPT_BATCH);
  CHECK(produce_error(*stub, "strict", 0, batch_of(3).substr(0, 50)) == v1::CORRUPT_BATCH);
  CHECK(produce_error(*stub, "strict", 0, batch_of(3).substr(0, 70)) == v1::CORRUPT_BATCH);
  // A good batch followed by garbage: nothing of the request is appended.
  CHECK(produce_error(*stub, "strict", 0, batch_of(2) + "garbage-garbage-garbage-garbage-garbage-garbage-garbage-garbage") ==
        v1::CORRUPT_BATCH);
  CHECK(produce_error(*stub, "strict", 0, "") == v1::INVALID_REQUEST);
  // Control batches are the broker's own entries.
  CHECK(produce_error(*stub, "strict", 0,
                      build_control_batch(ControlType::leader_change, "", 1000).value()) ==
        v1::INVALID_REQUEST);

  grpc::Status rpc;
  v1::ProduceRequest empty;
  grpc::ClientContext context;
  v1::ProduceResponse response;
  rpc = stub->Produce(&context, empty, &response);
  CHECK(rpc.error_code() == grpc::StatusCode::INVALID_ARGUMENT);

  v1::FetchRequest fetch;
  auto* p = fetch.add_partitions();
  p->set_topic("strict");
  p->set_partition(0);
  p->set_offset(99);
  grpc::ClientContext fetch_context;
  v1::FetchResponse fetched;
  REQUIRE(stub->Fetch(&fetch_context, fetch, &fetched).ok());
  CHECK(fetched.partitions(0).error().code() == v1::OFFSET_OUT_OF_RANGE);
  CHECK_THAT(fetched.partitions(0).error().message(), Catch::Contains("[0, 0)"));

  // Still serving, and nothing of the rejected input was stored.
  auto good = produce_raw(*stub, "strict", 0, batch_of(2));
  REQUIRE(good.results(0).error().code() == v1::NONE);
  CHECK(good.results(0).base_offset() == 0);
  auto description = cluster.admin->describe_topic("strict");
  REQUIRE(description.ok());
  CHECK(description->partitions[0].log_end_offset == Offset(2));
}

TEST_CASE("OversizedRequestIsRefusedWithAClearStatus", "[integration]") {
  SingleBroker cluster({"--max-request-bytes", "100000"});
  cluster.create_topic("t", 1);
  auto stub = raw_stub(cluster);
  grpc::Status rpc;
  produce_raw(*stub, "t", 0, std::string(200'000, 'x'), &rpc);
  CHECK(rpc.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK(produce_error(*stub, "t", 0, batch_of(1)) == v1::NONE);
}

TEST_CASE("PlainRecordsWorkWithoutTheBatchCodec", "[integration]") {
  SingleBroker cluster;
  cluster.create_topic("plain", 1);
  auto stub = raw_stub(cluster);
  v1::ProduceRequest request;
  auto* p = request.add_partitions();
  p->set_topic("plain");
  p->set_partition(0);
  for (int i = 0; i < 5; ++i) {
    auto* r = p->mutable_records()->add_records();
    r->set_key("k" + std::to_string(i));
    r->set_value("v" + std::to_string(i));
    auto* h = r->add_headers();
    h->set_key("h");
    h->set_value("x");
  }
  {
    grpc::ClientContext context;
    v1::ProduceResponse response;
    REQUIRE(stub->Produce(&context, request, &response).ok());
    REQUIRE(response.results(0).error().code() == v1::NONE);
    CHECK(response.results(0).last_offset() == 4);
  }
  v1::FetchRequest fetch;
  auto* f = fetch.add_partitions();
  f->set_topic("plain");
  f->set_partition(0);
  f->set_offset(2);
  fetch.set_as_records(true);
  grpc::ClientContext context;
  v1::FetchResponse response;
  REQUIRE(stub->Fetch(&context, fetch, &response).ok());
  const auto& got = response.partitions(0);
  REQUIRE(got.records_size() == 3);
  CHECK(got.records(0).offset() == 2);
  CHECK(got.records(0).key() == "k2");
  CHECK(got.records(2).value() == "v4");
  CHECK(got.records(0).headers(0).value() == "x");
  CHECK(got.records(0).timestamp_ms() > 1'600'000'000'000);
  CHECK(got.high_watermark() == 5);
}

TEST_CASE("LongPollAnswersWhenDataArrivesOrAfterMaxWait", "[integration]") {
  SingleBroker cluster;
  cluster.create_topic("quiet", 1);
  auto stub = raw_stub(cluster);
  auto fetch_at = [&](int64_t offset, int32_t max_wait_ms) {
    v1::FetchRequest fetch;
    auto* f = fetch.add_partitions();
    f->set_topic("quiet");
    f->set_partition(0);
    f->set_offset(offset);
    fetch.set_max_wait_ms(max_wait_ms);
    fetch.set_min_bytes(1);
    grpc::ClientContext context;
    v1::FetchResponse response;
    REQUIRE(stub->Fetch(&context, fetch, &response).ok());
    return response;
  };

  auto start = std::chrono::steady_clock::now();
  auto empty = fetch_at(0, 400);
  auto waited = std::chrono::steady_clock::now() - start;
  CHECK(empty.partitions(0).batches().empty());
  CHECK(waited >= std::chrono::milliseconds(380));
  CHECK(waited < std::chrono::milliseconds(3000));

  std::thread late_producer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    produce_raw(*stub, "quiet", 0, batch_of(1));
  });
  start = std::chrono::steady_clock::now();
  auto woken = fetch_at(0, 10'000);
  waited = std::chrono::steady_clock::now() - start;
  late_producer.join();
  CHECK_FALSE(woken.partitions(0).batches().empty());
  CHECK(waited >= std::chrono::milliseconds(250));
  CHECK(waited < std::chrono::milliseconds(5000));  // far below max_wait
}

TEST_CASE("AcknowledgedRecordsSurviveAKillOrAPowerCutMidStream", "[integration]") {
  // SIGKILL keeps what the page cache holds; a power cut keeps only what
  // was synced.
  // Syncs take 20 ms, so records are always appended and not yet synced.
  auto power_cut = GENERATE(false, true);
  CAPTURE(power_cut);
  SyncJournal journal;
  SingleBroker cluster(journal.broker_args(/*sync_delay_ms=*/20));
  cluster.create_topic("durable", 2);
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::map<int32_t, std::vector<std::pair<int64_t, std::string>>> acked;  // partition -> (offset, value)
  std::thread sender([&] {
    // Sends still pending at the kill fail after the delivery timeout.
    auto producer = cluster.producer(Acks::all, /*delivery_timeout_ms=*/2'000);
    for (int i = 0; !stop; ++i) {
      std::string value = "v" + std::to_string(i);
      ProducerRecord record{.topic = "durable", .value = value, .partition = i % 2};
      producer->send(std::move(record), [&, value](const Result<RecordMetadata>& r) {
        if (!r.ok()) return;  // the broker died: unacknowledged
        std::lock_guard lock(mutex);
        acked[r->partition].emplace_back(r->offset.value, value);
      });
      if (i % 64 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  cluster.broker.kill();
  stop = true;
  sender.join();
  if (power_cut) CHECK(journal.cut().bytes_dropped > 0);  // the cut took records a SIGKILL keeps
  REQUIRE(cluster.broker.start().ok());

  std::lock_guard lock(mutex);
  size_t total = 0;
  for (auto& [partition, records] : acked) {
    std::sort(records.begin(), records.end());
    total += records.size();
    auto consumer = cluster.consumer();
    REQUIRE(consumer->assign({{"durable", partition}}).ok());
    auto end = cluster.admin->list_offset("durable", partition, OffsetSpec::latest());
    REQUIRE(end.ok());
    auto stored = consume(*consumer, static_cast<size_t>(end->value));
    REQUIRE(stored.size() == static_cast<size_t>(end->value));
    // Every acknowledged record is there, at its offset, intact.
    for (const auto& [offset, value] : records) {
      REQUIRE(offset < static_cast<int64_t>(stored.size()));
      CHECK(stored[static_cast<size_t>(offset)].record.value == value);
    }
    for (size_t i = 0; i < stored.size(); ++i) CHECK(stored[i].record.offset == Offset(static_cast<int64_t>(i)));
  }
  INFO("acknowledged before the kill: " << total);
  CHECK(total > 100);
}

TEST_CASE("TopicsCreatedAlteredAndDeletedStaySoThroughAPowerCut", "[integration]") {
  // A power cut keeps only what was synced (--test-sync-journal): the topic
  // list is replaced durably before each change is answered.
  SyncJournal journal;
  SingleBroker cluster(journal.broker_args());
  cluster.create_topic("kept", 3, {{"retention.ms", "3600000"}});
  REQUIRE(cluster.admin->alter_topic_configs("kept", {{"segment.bytes", "1048576"}}).ok());
  cluster.create_topic("gone", 1);
  REQUIRE(cluster.admin->delete_topic("gone").ok());
  cluster.broker.kill();
  journal.cut();
  REQUIRE(cluster.broker.start().ok());

  auto kept = cluster.admin->describe_topic("kept");
  INFO(kept.status().to_string());
  REQUIRE(kept.ok());
  CHECK(kept->partitions.size() == 3);
  CHECK(kept->configs["retention.ms"] == "3600000");
  CHECK(kept->configs["segment.bytes"] == "1048576");
  CHECK(cluster.admin->describe_topic("gone").status().code() == ErrorCode::unknown_topic_or_partition);
}

TEST_CASE("RetentionMovesTheEarliestOffsetAndConsumersStartThere", "[integration]") {
  SingleBroker cluster({"--retention-check-interval-ms", "200"});
  cluster.create_topic("short", 1, {{"segment.ms", "300"}, {"retention.ms", "600"}});
  Offset earliest = produce_until_retention_moves_the_start(cluster, "short");
  auto consumer = cluster.consumer(OffsetReset::earliest);
  REQUIRE(consumer->assign({{"short", 0}}).ok());
  auto records = consume(*consumer, 1, std::chrono::seconds(3));
  REQUIRE_FALSE(records.empty());
  CHECK(records.front().record.offset >= earliest);
  CHECK(records.front().record.value->rfind("old", 0) != 0);
}

TEST_CASE("SigtermShutsDownCleanlyAndRestartSkipsTheScan", "[integration]") {
  SingleBroker cluster;
  cluster.create_topic("calm", 2);
  auto producer = cluster.producer();
  for (int i = 0; i < 100; ++i) producer->send({.topic = "calm", .value = "v", .partition = i % 2});
  producer->flush();
  cluster.broker.stop();
  std::ifstream first_log(cluster.broker.log_path());
  std::string log((std::istreambuf_iterator<char>(first_log)), {});
  CHECK_THAT(log, Catch::Contains("stopped cleanly"));
  REQUIRE(cluster.broker.start().ok());
  std::ifstream second_log(cluster.broker.log_path());
  log.assign(std::istreambuf_iterator<char>(second_log), {});
  CHECK_THAT(log, Catch::Contains("opened calm/0: offsets [0, 50), 1 segment(s), clean shutdown"));
  CHECK(*cluster.admin->list_offset("calm", 1, OffsetSpec::latest()) == Offset(50));
}

TEST_CASE("ConfigFileSetsBrokerOptions", "[integration]") {
  TempFolder folder;
  std::string config = folder.path() + "/cairnd.conf";
  std::ofstream(config) << "auto-create-topics = true\ndefault-partitions = 3\n";
  BrokerProcess broker(folder.path() + "/data", {"--config", config});
  REQUIRE(broker.start().ok());
  ClientOptions client;
  client.bootstrap_brokers = {broker.address()};
  auto stub = v1::Broker::NewStub(grpc::CreateChannel(broker.address(), grpc::InsecureChannelCredentials()));
  auto response = produce_raw(*stub, "fresh", 2, batch_of(1));
  CHECK(response.results(0).error().code() == v1::NONE);
  auto admin = std::move(Admin::connect(client)).value();
  auto topic = admin->describe_topic("fresh");
  REQUIRE(topic.ok());
  CHECK(topic->partitions.size() == 3);
}

TEST_CASE("StandardHealthServiceSaysServing", "[integration]") {
  SingleBroker cluster;
  Status health = cluster.admin->check_health(cluster.broker.address());
  INFO(health.to_string());
  CHECK(health.ok());
  cluster.broker.pause();  // hangs: no answer within the request timeout
  ClientOptions quick = cluster.client_options();
  quick.request_timeout_ms = 500;
  auto admin = std::move(Admin::connect(quick)).value();
  CHECK(admin->check_health(cluster.broker.address()).code() == ErrorCode::broker_unavailable);
  cluster.broker.resume();
}

TEST_CASE("InternalTopicsCannotBeProducedToDeletedOrAltered", "[integration]") {
  SingleBroker cluster;
  auto stub = raw_stub(cluster);
  const std::string offsets = "__consumer_offsets";
  CHECK(produce_error(*stub, offsets, 0, batch_of(1)) == v1::INTERNAL_TOPIC);
  Status deleted = cluster.admin->delete_topic(offsets);
  CHECK(deleted.code() == ErrorCode::internal_topic);
  CHECK_THAT(deleted.message(), Catch::Contains("'__consumer_offsets' is an internal topic"));
  CHECK(cluster.admin->alter_topic_configs(offsets, {{"retention.ms", "1"}}).code() == ErrorCode::internal_topic);
  CHECK(cluster.admin->create_topic("__mine", 1, {}).code() == ErrorCode::internal_topic);
  // Still there, untouched, and readable.
  auto description = cluster.admin->describe_topic(offsets);
  REQUIRE(description.ok());
  CHECK(description->configs.at("retention.ms") != "1");
  CHECK(description->partitions[0].log_end_offset == Offset(0));
}

TEST_CASE("TopicMaxMessageBytesAboveTheRequestLimitIsRefused", "[integration]") {
  SingleBroker cluster({"--max-request-bytes", "100000"});
  Status created = cluster.admin->create_topic("big", 1, {{"max.message.bytes", "200000"}});
  CHECK(created.code() == ErrorCode::invalid_config);
  CHECK_THAT(created.message(), Catch::Contains("max.message.bytes 200000 is above the broker's --max-request-bytes 100000"));
  cluster.create_topic("small", 1, {{"max.message.bytes", "50000"}});
  CHECK(cluster.admin->alter_topic_configs("small", {{"max.message.bytes", "200000"}}).code() ==
        ErrorCode::invalid_config);
  CHECK(cluster.admin->alter_topic_configs("small", {{"max.message.bytes", "90000"}}).ok());
}
