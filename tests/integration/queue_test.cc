// Share groups (queues) and dead letters, with real cairnd processes and
// workers: records shared by workers, redelivered when a worker dies, moved
// to the dead-letter topic after their last attempt, and brought back.

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "cairn/dead_letter.h"
#include "cairn/share_consumer.h"
#include "cluster_fixture.h"
#include "local_cluster.h"
#include "proto/group_placement.h"
#include "run_command.h"

using namespace cairn;
using namespace cairn::testing;

namespace {

// `Cluster`: SingleBroker or LocalCluster.
template <typename Cluster>
std::unique_ptr<ShareConsumer> share_consumer(const Cluster& cluster, const std::string& group,
                                              const std::string& topic, int32_t max_poll_records = 500) {
  ShareConsumerOptions options;
  options.client = cluster.client_options();
  options.group_id = group;
  options.acknowledgement_mode = AcknowledgementMode::explicit_;
  options.max_poll_records = max_poll_records;
  auto created = ShareConsumer::create(options);
  REQUIRE(created.ok());
  Status subscribed = (*created)->subscribe({topic});
  INFO(subscribed.to_string());
  REQUIRE(subscribed.ok());
  return std::move(*created);
}

template <typename Cluster>
void produce_values(Cluster& cluster, const std::string& topic, int n, const std::string& prefix = "job-") {
  OffThreadFailures failures;
  auto producer = cluster.producer();
  for (int i = 0; i < n; ++i) {
    producer->send({.topic = topic, .key = std::to_string(i), .value = prefix + std::to_string(i)},
                   [&](const Result<RecordMetadata>& r) { failures.expect_ok(r.status(), "send"); });
  }
  producer->flush();
  CHECK_NO_OFF_THREAD_FAILURES(failures);
}

// Polls until `count` records came or nothing came for `idle`.
std::vector<ShareRecord> take(ShareConsumer& consumer, size_t count,
                              std::chrono::milliseconds idle = std::chrono::seconds(5)) {
  std::vector<ShareRecord> out;
  auto last_progress = std::chrono::steady_clock::now();
  while (out.size() < count && std::chrono::steady_clock::now() - last_progress < idle) {
    auto records = consumer.poll(std::chrono::milliseconds(200), count - out.size());
    INFO(records.status().to_string());
    REQUIRE(records.ok());
    if (!records->empty()) last_progress = std::chrono::steady_clock::now();
    for (auto& r : *records) out.push_back(std::move(r));
  }
  return out;
}

std::optional<std::string> header(const Record& r, std::string_view key) {
  for (const auto& h : r.headers) {
    if (h.key == key) return h.value;
  }
  return std::nullopt;
}

// Every record of partition `p` of `topic`, from the start.
template <typename Cluster>
std::vector<ConsumerRecord> read_all(Cluster& cluster, const std::string& topic, size_t count, int32_t p = 0) {
  ConsumerOptions options;
  options.client = cluster.client_options();
  options.auto_offset_reset = OffsetReset::earliest;
  options.fetch_max_wait_ms = 200;
  auto consumer = Consumer::create(options);
  REQUIRE(consumer.ok());
  REQUIRE((*consumer)->assign({{topic, p}}).ok());
  return consume(**consumer, count, std::chrono::seconds(10));
}

// Polls, handing each record to `act` (which acknowledges it) and
// committing after each poll, until a poll brings nothing once `enough()`
// holds, or 20 s passed.
void work_until(ShareConsumer& consumer, const std::function<void(const ShareRecord&)>& act,
                const std::function<bool()>& enough) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    auto records = consumer.poll(std::chrono::milliseconds(300));
    REQUIRE(records.ok());
    if (records->empty() && enough()) return;
    for (const auto& r : *records) act(r);
    REQUIRE(consumer.commit().ok());
  }
}

CommandResult cairn_cli(const SingleBroker& cluster, const std::string& args) {
  return run_command(fmt::format("{} {} --brokers {} 2>&1", bin_path("cairn"), args, cluster.broker.address()));
}

}  // namespace

TEST_CASE("FourWorkersShareAQueueAndAcceptEveryRecordOnce", "[integration][queues]") {
  SingleBroker cluster;
  cluster.create_topic("jobs", 2);
  constexpr int kRecords = 2000;
  produce_values(cluster, "jobs", kRecords);

  std::mutex mutex;
  std::set<std::string> held;                // by some worker now
  std::map<std::string, int> accepted;       // value -> times accepted
  std::map<int, int> taken_by;               // worker -> records
  int overlaps = 0;
  std::atomic<int> done{0};
  std::barrier start(4);
  OffThreadFailures failures;
  auto worker = [&](int id) {
    ShareConsumerOptions options;
    options.client = cluster.client_options();
    options.group_id = "workers";
    options.acknowledgement_mode = AcknowledgementMode::explicit_;
    options.max_poll_records = 25;
    auto consumer = ShareConsumer::create(options);
    bool ready = failures.expect_ok(consumer.status(), "create") &&
                 failures.expect_ok((*consumer)->subscribe({"jobs"}), "subscribe");
    start.arrive_and_wait();  // all poll together: the test is about sharing
    if (!ready) return;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (done.load() < kRecords && std::chrono::steady_clock::now() < deadline) {
      auto records = (*consumer)->poll(std::chrono::milliseconds(200));
      if (!failures.expect_ok(records.status(), "poll")) return;
      for (const auto& r : *records) {
        std::lock_guard lock(mutex);
        overlaps += !held.insert(*r.value()).second;
        ++taken_by[id];
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // the job
      for (const auto& r : *records) {
        {
          std::lock_guard lock(mutex);
          held.erase(*r.value());
          ++accepted[*r.value()];
        }
        (*consumer)->accept(r);
      }
      if (!failures.expect_ok((*consumer)->commit(), "commit")) return;
      done += static_cast<int>(records->size());
    }
    (*consumer)->close();
  };
  std::vector<std::thread> workers;
  for (int id = 0; id < 4; ++id) workers.emplace_back(worker, id);
  for (auto& t : workers) t.join();
  CHECK_NO_OFF_THREAD_FAILURES(failures);
  CHECK(overlaps == 0);
  CHECK(accepted.size() == static_cast<size_t>(kRecords));
  int twice = 0;
  for (const auto& [value, times] : accepted) twice += times != 1;
  CHECK(twice == 0);
  INFO("records per worker: " << taken_by[0] << " " << taken_by[1] << " " << taken_by[2] << " " << taken_by[3]);
  CHECK(taken_by.size() == 4);  // more workers than partitions, all of them busy

  auto described = cluster.admin->describe_share_group("workers");
  REQUIRE(described.ok());
  REQUIRE(described->partitions.size() == 2);
  for (const auto& p : described->partitions) {
    CHECK(p.start_offset == p.high_watermark);
    CHECK(p.lag == 0);
    CHECK(p.acquired == 0);
  }
  CHECK(described->members.empty());  // each left at close
}

TEST_CASE("AWorkerKilledMidJobHasItsRecordsDeliveredToAnotherOnceItsLocksEnd", "[integration][queues]") {
  SingleBroker cluster({"--share-record-lock-ms", "2000"});
  cluster.create_topic("jobs", 1);
  produce_values(cluster, "jobs", 20);
  // A worker process takes 5 records and hangs on to them...
  std::string out = cluster.folder.path() + "/worker.out";
  auto started = run_command(fmt::format("{} {} jobs workers 5 > {} 2>&1 & echo $!", bin_path("queue_worker"),
                                         cluster.broker.address(), out));
  pid_t worker = std::atoi(started.output.c_str());
  REQUIRE(worker > 0);
  std::set<int64_t> taken_by_worker;
  bool holding = eventually(
      [&] {
        std::ifstream in(out);
        std::string line;
        taken_by_worker.clear();
        bool done = false;
        while (std::getline(in, line)) {
          if (line.starts_with("took 0:")) taken_by_worker.insert(std::atoll(line.c_str() + 7));
          done = done || line == "holding";
        }
        return done;
      },
      std::chrono::seconds(20));
  REQUIRE(holding);
  REQUIRE(taken_by_worker.size() == 5);
  // ...and dies mid-job.
  REQUIRE(::kill(worker, SIGKILL) == 0);
  auto killed_at = std::chrono::steady_clock::now();

  auto consumer = share_consumer(cluster, "workers", "jobs");
  auto first = take(*consumer, 15);
  REQUIRE(first.size() == 15);
  for (const auto& r : first) {
    CHECK(taken_by_worker.count(r.offset().value) == 0);  // held by the dead worker still
    CHECK(r.delivery_count == 1);
    consumer->accept(r);
  }
  REQUIRE(consumer->commit().ok());
  auto second = take(*consumer, 5, std::chrono::seconds(10));
  auto waited = std::chrono::steady_clock::now() - killed_at;
  REQUIRE(second.size() == 5);
  CHECK(waited >= std::chrono::milliseconds(1000));  // not before the locks could end
  for (const auto& r : second) {
    CHECK(taken_by_worker.count(r.offset().value) == 1);
    CHECK(r.delivery_count == 2);  // the dead worker's delivery counted
    consumer->accept(r);
  }
  REQUIRE(consumer->commit().ok());
  CHECK(take(*consumer, 1, std::chrono::milliseconds(2500)).empty());
  consumer->close();
}

TEST_CASE("ALongJobRenewsItsLockAndKeepsItsRecord", "[integration][queues]") {
  SingleBroker cluster({"--share-record-lock-ms", "1000"});
  cluster.create_topic("jobs", 1);
  produce_values(cluster, "jobs", 1);
  auto slow = share_consumer(cluster, "workers", "jobs");
  auto other = share_consumer(cluster, "workers", "jobs");
  auto held = take(*slow, 1);
  REQUIRE(held.size() == 1);
  for (int i = 0; i < 6; ++i) {
    REQUIRE(slow->renew(held).ok());
    auto stolen = other->poll(std::chrono::milliseconds(400));
    REQUIRE(stolen.ok());
    CHECK(stolen->empty());
  }
  slow->accept(held[0]);
  CHECK(slow->commit().ok());
  // An acknowledgement after the lock ended is refused, and says why.
  produce_values(cluster, "jobs", 1, "late-");
  auto late = take(*slow, 1);
  REQUIRE(late.size() == 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(1300));
  slow->accept(late[0]);
  Status refused = slow->commit();
  CHECK(refused.code() == ErrorCode::record_not_acquired);
  CHECK_THAT(refused.message(), Catch::Contains("lock"));
}

TEST_CASE("APoisonRecordIsDeadLetteredAfterFiveAttemptsAndRedriveBringsItBack", "[integration][queues]") {
  SingleBroker cluster;
  cluster.create_topic("payments", 1);
  produce_values(cluster, "payments", 1, "poison-");
  produce_values(cluster, "payments", 1, "garbage-");
  auto consumer = share_consumer(cluster, "billing", "payments");
  std::vector<int32_t> poison_deliveries;
  work_until(
      *consumer,
      [&](const ShareRecord& r) {
        if (r.value()->starts_with("poison")) {
          poison_deliveries.push_back(r.delivery_count);
          consumer->release(r, fmt::format("boom {}", r.delivery_count));
        } else {
          consumer->reject(r, "cannot parse");
        }
      },
      [&] { return poison_deliveries.size() >= 5; });
  CHECK(poison_deliveries == std::vector<int32_t>{1, 2, 3, 4, 5});

  // Both are in payments.dlq, with where they came from and why.
  auto dead = read_all(cluster, "payments.dlq", 2);
  REQUIRE(dead.size() == 2);
  std::map<std::string, Record> by_value;
  for (const auto& d : dead) by_value[*d.record.value] = d.record;
  REQUIRE(by_value.count("poison-0"));
  REQUIRE(by_value.count("garbage-0"));
  const Record& poison = by_value["poison-0"];
  CHECK(*poison.key == "0");
  CHECK(header(poison, dead_letter::kSourceTopic) == "payments");
  CHECK(header(poison, dead_letter::kSourcePartition) == "0");
  CHECK(header(poison, dead_letter::kSourceOffset) == "0");
  CHECK(header(poison, dead_letter::kGroup) == "billing");
  CHECK(header(poison, dead_letter::kDeliveryCount) == "5");
  CHECK(header(poison, dead_letter::kLastError) == "boom 5");
  CHECK(header(poison, dead_letter::kFirstDeliveryMs).has_value());
  const Record& garbage = by_value["garbage-0"];
  CHECK(header(garbage, dead_letter::kDeliveryCount) == "1");
  CHECK(header(garbage, dead_letter::kLastError) == "cannot parse");
  CHECK(header(garbage, dead_letter::kSourceOffset) == "1");

  auto listed = cairn_cli(cluster, "dlq list payments");
  CHECK(listed.exit_code == 0);
  CHECK_THAT(listed.output, Catch::Contains("from payments/0@0") && Catch::Contains("boom 5") &&
                                Catch::Contains("2 dead letter(s), 0 redriven"));

  // Redrive sends both back, once; a second redrive says it skipped them.
  auto redriven = cairn_cli(cluster, "dlq redrive payments --filter boom");
  INFO(redriven.output);
  CHECK(redriven.exit_code == 0);
  CHECK_THAT(redriven.output, Catch::Contains("-> payments/0@2 (redrive #1)") &&
                                  Catch::Contains("redrove 1 record(s)") && Catch::Contains("1 did not match"));
  auto again = cairn_cli(cluster, "dlq redrive payments");
  INFO(again.output);
  CHECK_THAT(again.output, Catch::Contains("redrove 1 record(s)") && Catch::Contains("skipped 1 redriven before"));
  auto third = cairn_cli(cluster, "dlq redrive payments");
  CHECK_THAT(third.output, Catch::Contains("redrove 0 record(s)") && Catch::Contains("skipped 2 redriven before"));

  auto back = take(*consumer, 2);
  REQUIRE(back.size() == 2);
  for (const auto& r : back) {
    CHECK(r.delivery_count == 1);
    CHECK(header(r.record, dead_letter::kRedriveCount) == "1");
    CHECK_FALSE(header(r.record, dead_letter::kLastError).has_value());
    consumer->accept(r);
  }
  CHECK(consumer->commit().ok());
}

TEST_CASE("ABrokerKilledWithRecordsHeldRedeliversOnlyWhatWasNotAccepted", "[integration][queues]") {
  // SIGKILL keeps what the page cache holds; a power cut keeps only what
  // was synced.
  auto power_cut = GENERATE(false, true);
  CAPTURE(power_cut);
  SyncJournal journal;
  SingleBroker cluster(journal.broker_args());
  cluster.create_topic("jobs", 1);
  produce_values(cluster, "jobs", 100);
  // Kept until the broker is back: closing it now would wait out a request
  // timeout trying to leave the group.
  auto first = share_consumer(cluster, "workers", "jobs");
  auto held = take(*first, 100);
  REQUIRE(held.size() == 100);
  for (const auto& r : held) {
    if (r.offset().value < 50) first->accept(r);
  }
  REQUIRE(first->commit().ok());  // durable once answered
  cluster.broker.kill();
  if (power_cut) journal.cut();
  REQUIRE(cluster.broker.start().ok());
  auto consumer = share_consumer(cluster, "workers", "jobs");
  auto again = take(*consumer, 100, std::chrono::seconds(3));
  REQUIRE(again.size() == 50);
  std::set<int64_t> offsets;
  for (const auto& r : again) {
    offsets.insert(r.offset().value);
    CHECK(r.delivery_count == 2);  // the delivery the crash ended counts
    consumer->accept(r);
  }
  CHECK(*offsets.begin() == 50);
  CHECK(*offsets.rbegin() == 99);
  CHECK(offsets.size() == 50);
  CHECK(consumer->commit().ok());
}

TEST_CASE("AConsumerGroupGetsEveryRecordWhileAShareGroupSharesThem", "[integration][queues]") {
  SingleBroker cluster;
  cluster.create_topic("events", 2);
  produce_values(cluster, "events", 500);
  ConsumerOptions options;
  options.client = cluster.client_options();
  options.group_id = "audit";
  options.auto_offset_reset = OffsetReset::earliest;
  options.fetch_max_wait_ms = 100;
  auto subscriber = Consumer::create(options);
  REQUIRE(subscriber.ok());
  REQUIRE((*subscriber)->subscribe({"events"}).ok());
  auto a = share_consumer(cluster, "workers", "events", 40);
  auto b = share_consumer(cluster, "workers", "events", 40);
  std::map<std::string, int> shared;
  std::set<std::string> subscribed;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while ((shared.size() < 500 || subscribed.size() < 500) && std::chrono::steady_clock::now() < deadline) {
    for (auto* worker : {a.get(), b.get()}) {
      auto records = worker->poll(std::chrono::milliseconds(50));
      REQUIRE(records.ok());
      for (const auto& r : *records) {
        ++shared[*r.value()];
        worker->accept(r);
      }
      REQUIRE(worker->commit().ok());
    }
    auto records = (*subscriber)->poll(std::chrono::milliseconds(50));
    REQUIRE(records.ok());
    for (const auto& r : *records) subscribed.insert(*r.value());
  }
  CHECK(subscribed.size() == 500);
  CHECK(shared.size() == 500);
  int twice = 0;
  for (const auto& [value, times] : shared) twice += times != 1;
  CHECK(twice == 0);
}

TEST_CASE("QueueConsumeHoldsNoMoreThanItPrints", "[integration][queues][cli]") {
  SingleBroker cluster;
  cluster.create_topic("jobs", 1);
  produce_values(cluster, "jobs", 10);
  auto first = cairn_cli(cluster, "queue consume jobs --group g --max-messages 3 --timeout-ms 5000");
  CHECK(first.exit_code == 0);
  CHECK(first.output == "job-0\njob-1\njob-2\n");
  // The other 7 were never taken: each comes on its first delivery.
  auto rest = cairn_cli(cluster, "queue consume jobs --group g --print-delivery-count --timeout-ms 1500");
  CHECK(rest.exit_code == 0);
  CHECK(rest.output == "1\tjob-3\n1\tjob-4\n1\tjob-5\n1\tjob-6\n1\tjob-7\n1\tjob-8\n1\tjob-9\n");
  auto described = cairn_cli(cluster, "queue describe g --format json");
  CHECK(described.exit_code == 0);
  CHECK_THAT(described.output, Catch::Contains(R"("start_offset":10)") && Catch::Contains(R"("lag":0)"));
  auto missing = cairn_cli(cluster, "queue describe nobody");
  CHECK(missing.exit_code != 0);
  CHECK_THAT(missing.output, Catch::Contains("share group nobody does not exist"));
  auto reset = cairn_cli(cluster, "queue reset g --topic jobs --to earliest");
  CHECK(reset.exit_code == 0);
  auto replayed = cairn_cli(cluster, "queue consume jobs --group g --max-messages 2 --timeout-ms 5000");
  CHECK(replayed.output == "job-0\njob-1\n");
}

TEST_CASE("ATopicSetsItsOwnDeliveryAttemptsAndDeadLetterTopic", "[integration][queues]") {
  SingleBroker cluster;
  Status refused = cluster.admin->create_topic("bad", 1, {{"max.delivery.attempts", "0"}});
  CHECK(refused.code() == ErrorCode::invalid_config);
  CHECK_THAT(refused.message(), Catch::Contains("max.delivery.attempts"));
  cluster.create_topic("orders", 1, {{"max.delivery.attempts", "2"}, {"dead.letter.topic", "orders-failed"}});
  // Its own dead-letter topic would hand dead letters back to the workers that gave up on them.
  Status loop = cluster.admin->alter_topic_configs("orders", {{"dead.letter.topic", "orders"}});
  CHECK(loop.code() == ErrorCode::invalid_config);
  CHECK_THAT(loop.message(), Catch::Contains("cannot be the topic itself"));
  auto described = cluster.admin->describe_topic("orders");
  REQUIRE(described.ok());
  CHECK(described->configs["max.delivery.attempts"] == "2");
  CHECK(described->configs["dead.letter.topic"] == "orders-failed");
  produce_values(cluster, "orders", 1);
  auto consumer = share_consumer(cluster, "shipping", "orders");
  int deliveries = 0;
  work_until(
      *consumer,
      [&](const ShareRecord& r) {
        ++deliveries;
        consumer->release(r, "no stock");
      },
      [&] { return deliveries >= 2; });
  CHECK(deliveries == 2);
  auto dead = read_all(cluster, "orders-failed", 1);
  REQUIRE(dead.size() == 1);
  CHECK(header(dead[0].record, dead_letter::kDeliveryCount) == "2");
  auto listed = cairn_cli(cluster, "dlq list orders");
  CHECK_THAT(listed.output, Catch::Contains("from orders/0@0") && Catch::Contains("orders-failed: 1 dead letter(s)"));
}

TEST_CASE("ADeliveryIsCountedDurablyBeforeTheRecordIsHandedOut", "[integration][queues]") {
  // Each record may be delivered once. Syncs take 1 s, and the power is
  // cut the moment the fetch is answered: had the fetch been answered before
  // the sync that counts its deliveries, the restarted broker would not know
  // they happened and would deliver every record a second time.
  SyncJournal journal;
  auto args = journal.broker_args(/*sync_delay_ms=*/1000);
  args.insert(args.end(), {"--share-max-delivery-attempts", "1"});
  SingleBroker cluster(args);
  cluster.create_topic("jobs", 1);
  produce_values(cluster, "jobs", 10);
  auto first = share_consumer(cluster, "workers", "jobs");
  auto held = take(*first, 10);
  REQUIRE(held.size() == 10);
  cluster.broker.kill();
  journal.cut();
  REQUIRE(cluster.broker.start().ok());

  // The restart ended each record's only allowed delivery: dead letters, not jobs again.
  auto consumer = share_consumer(cluster, "workers", "jobs");
  CHECK(take(*consumer, 10, std::chrono::seconds(3)).empty());
  auto dead = read_all(cluster, "jobs.dlq", 10);
  CHECK(dead.size() == 10);
  for (const auto& d : dead) CHECK(header(d.record, dead_letter::kDeliveryCount) == "1");
}

TEST_CASE("AShareGroupIsDeletedOnlyOnceItsWorkersAreGone", "[integration][queues][cli]") {
  SingleBroker cluster;
  cluster.create_topic("jobs", 1);
  produce_values(cluster, "jobs", 10);
  auto worker = share_consumer(cluster, "workers", "jobs");
  auto done = take(*worker, 3);
  REQUIRE(done.size() == 3);
  for (const auto& r : done) worker->accept(r);
  REQUIRE(worker->commit().ok());

  auto refused = cairn_cli(cluster, "queue delete workers");
  CHECK(refused.exit_code != 0);
  CHECK_THAT(refused.output, Catch::Contains("has 1 member(s)") && Catch::Contains("stop its workers first"));
  worker->close(std::chrono::seconds(5));
  auto deleted = cairn_cli(cluster, "queue delete workers");
  INFO(deleted.output);
  CHECK(deleted.exit_code == 0);
  CHECK(deleted.output == "deleted share group workers\n");
  CHECK(cairn_cli(cluster, "queue delete workers").exit_code != 0);

  // Gone for good: not brought back by a restart; a group of that name starts over.
  cluster.broker.kill();
  REQUIRE(cluster.broker.start().ok());
  auto described = cairn_cli(cluster, "queue describe workers");
  CHECK_THAT(described.output, Catch::Contains("share group workers does not exist"));
  auto again = share_consumer(cluster, "workers", "jobs");
  auto all = take(*again, 10, std::chrono::seconds(3));
  REQUIRE(all.size() == 10);
  CHECK(all.front().offset().value == 0);
  for (const auto& r : all) CHECK(r.delivery_count == 1);
}

// In a cluster a share group's coordinator is the leader of its partition
// of __share_group_state; what it made durable outlives it.
TEST_CASE("AShareGroupInAClusterKeepsItsAcknowledgementsWhenItsCoordinatorIsKilled", "[integration][queues][cluster]") {
  // Aged: retention of __share_group_state has dropped the records the
  // acknowledgements wrote by the time the coordinator dies; its rewrites
  // must have kept the state.
  bool aged = GENERATE(false, true);
  INFO((aged ? "after retention passed the acknowledgements" : "at once"));
  std::vector<std::string> args{"--share-record-lock-ms", "30000"};
  if (aged) args.insert(args.end(), {"--offsets-topic-retention-ms", "4000", "--retention-check-interval-ms", "300"});
  LocalCluster cluster(args);
  cluster.create_topic("jobs", 2, 3);
  cluster.wait_for_leaders("jobs");
  produce_values(cluster, "jobs", 600);
  REQUIRE(eventually([&] { return cluster.admin->describe_topic(kShareStateTopic).ok(); }, std::chrono::seconds(20)));
  cluster.wait_for_leaders(kShareStateTopic);

  // The first worker accepts 200 records (durable once commit answers) and
  // still holds 100 when its coordinator dies.
  auto first = share_consumer(cluster, "workers", "jobs", 100);
  auto accepted = take(*first, 200);
  REQUIRE(accepted.size() == 200);
  std::set<std::string> done;
  for (const auto& r : accepted) {
    done.insert(*r.value());
    first->accept(r);
  }
  REQUIRE(first->commit().ok());
  auto held = take(*first, 100);
  REQUIRE(held.size() == 100);
  std::set<std::string> was_held;
  for (const auto& r : held) was_held.insert(*r.value());

  const auto state_partition = static_cast<size_t>(offsets_partition_of("workers", 4));
  if (aged) {
    auto described = cluster.admin->describe_topic(kShareStateTopic);
    REQUIRE(described.ok());
    Offset after_acks = described->partitions[state_partition].high_watermark;
    bool dropped = eventually(
        [&] {
          auto now = cluster.admin->describe_topic(kShareStateTopic);
          return now.ok() && now->partitions[state_partition].log_start_offset >= after_acks;
        },
        std::chrono::seconds(30));
    INFO(cluster.log_tails());
    REQUIRE(dropped);
  }
  cluster.broker(cluster.wait_for_leaders(kShareStateTopic)[state_partition]).kill();

  // A second worker gets every record not accepted, once: those held by the
  // first come again with their interrupted delivery counted.
  auto second = share_consumer(cluster, "workers", "jobs");
  auto rest = take(*second, 400, std::chrono::seconds(15));
  INFO(cluster.log_tails());
  std::set<std::string> seen;
  int redelivered = 0;
  for (const auto& r : rest) {
    CHECK_FALSE(done.count(*r.value()));  // never an accepted record again
    CHECK(seen.insert(*r.value()).second);
    if (was_held.count(*r.value())) {
      CHECK(r.delivery_count == 2);
      ++redelivered;
    } else {
      CHECK(r.delivery_count == 1);
    }
    second->accept(r);
  }
  CHECK(rest.size() == 400);
  CHECK(redelivered == 100);
  REQUIRE(second->commit().ok());
  // The first worker's acknowledgements of what the dead coordinator handed
  // it are refused, never silently taken.
  for (const auto& r : held) first->accept(r);
  CHECK(first->commit().code() == ErrorCode::record_not_acquired);

  // Nothing left: the new leaders' own entries (no-ops the share group
  // passes on its next fetch) are all the lag can count.
  bool finished = eventually(
      [&] {
        auto more = second->poll(std::chrono::milliseconds(100));
        if (!more.ok()) return false;
        CHECK(more->empty());
        auto described = cluster.admin->describe_share_group("workers");
        return described.ok() && std::all_of(described->partitions.begin(), described->partitions.end(),
                                              [](const auto& p) { return p.lag == 0; });
      },
      std::chrono::seconds(10));
  CHECK(finished);
}

TEST_CASE("WorkersShareAReplicatedTopicAndItsPoisonRecordsAreDeadLettered", "[integration][queues][cluster]") {
  LocalCluster cluster;
  cluster.create_topic("payments", 2, 3);
  cluster.wait_for_leaders("payments");
  constexpr int kRecords = 400;
  produce_values(cluster, "payments", kRecords);
  produce_values(cluster, "payments", 1, "poison-");

  // Two workers share the queue; the poison record fails every time.
  std::mutex mutex;
  std::map<std::string, int> accepted;
  std::vector<int32_t> poison_deliveries;
  OffThreadFailures failures;
  auto worker = [&] {
    ShareConsumerOptions options;
    options.client = cluster.client_options();
    options.group_id = "billing";
    options.acknowledgement_mode = AcknowledgementMode::explicit_;
    options.max_poll_records = 20;
    auto consumer = ShareConsumer::create(options);
    if (!failures.expect_ok(consumer.status(), "create") ||
        !failures.expect_ok((*consumer)->subscribe({"payments"}), "subscribe")) {
      return;
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    auto finished = [&] {
      std::lock_guard lock(mutex);
      return accepted.size() == kRecords && poison_deliveries.size() >= 5;
    };
    while (!finished() && std::chrono::steady_clock::now() < deadline) {
      auto records = (*consumer)->poll(std::chrono::milliseconds(300));
      if (!failures.expect_ok(records.status(), "poll")) return;
      for (const auto& r : *records) {
        std::lock_guard lock(mutex);
        if (r.value()->starts_with("poison")) {
          poison_deliveries.push_back(r.delivery_count);
          (*consumer)->release(r, fmt::format("declined {}", r.delivery_count));
        } else {
          ++accepted[*r.value()];
          (*consumer)->accept(r);
        }
      }
      if (!failures.expect_ok((*consumer)->commit(), "commit")) return;
    }
    (*consumer)->close();
  };
  std::thread a(worker), b(worker);
  a.join();
  b.join();
  INFO(cluster.log_tails());
  CHECK_NO_OFF_THREAD_FAILURES(failures);
  CHECK(accepted.size() == static_cast<size_t>(kRecords));
  int twice = 0;
  for (const auto& [value, times] : accepted) twice += times != 1;
  CHECK(twice == 0);
  std::sort(poison_deliveries.begin(), poison_deliveries.end());
  CHECK(poison_deliveries == std::vector<int32_t>{1, 2, 3, 4, 5});

  // The dead-letter topic was created through the controller, replicated,
  // and holds the poison record with where it came from.
  REQUIRE(eventually([&] { return cluster.admin->describe_topic("payments.dlq").ok(); }, std::chrono::seconds(20)));
  auto dlq = cluster.admin->describe_topic("payments.dlq");
  REQUIRE(dlq->partitions.size() == 2);
  CHECK(dlq->partitions[0].replicas.size() == 3);
  auto poison_partition = [&]() -> int32_t {
    for (int32_t p = 0; p < 2; ++p) {
      auto dead = read_all(cluster, "payments.dlq", 1, p);
      if (!dead.empty()) return p;
    }
    return -1;
  }();
  REQUIRE(poison_partition >= 0);
  auto dead = read_all(cluster, "payments.dlq", 1, poison_partition);
  REQUIRE(dead.size() == 1);
  CHECK(*dead[0].record.value == "poison-0");
  CHECK(header(dead[0].record, dead_letter::kSourceTopic) == "payments");
  CHECK(header(dead[0].record, dead_letter::kSourcePartition) == std::to_string(poison_partition));
  CHECK(header(dead[0].record, dead_letter::kDeliveryCount) == "5");
  CHECK(header(dead[0].record, dead_letter::kLastError) == "declined 5");
  CHECK(header(dead[0].record, dead_letter::kGroup) == "billing");

  auto listed = cluster.admin->list_share_groups();
  REQUIRE(listed.ok());
  CHECK(*listed == std::vector<std::string>{"billing"});
}
