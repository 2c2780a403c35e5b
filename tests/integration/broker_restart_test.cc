// Clients riding out a broker that is killed and restarted on the same port
// and data folder, as the README promises (retries until delivery_timeout_ms).

#include <sys/resource.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "cluster_fixture.h"
#include "run_command.h"

using namespace cairn;
using namespace cairn::testing;

namespace {

std::chrono::milliseconds process_cpu_time() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto ms = [](const timeval& t) { return std::chrono::milliseconds(t.tv_sec * 1000 + t.tv_usec / 1000); };
  return ms(usage.ru_utime) + ms(usage.ru_stime);
}

// A consumer polling on its own thread until stopped, keeping every value.
class BackgroundConsumer {
 public:
  BackgroundConsumer(std::unique_ptr<Consumer> consumer, OffThreadFailures& failures, std::string name)
      : consumer_(std::move(consumer)), thread_([this, &failures, name] {
          while (!stop_) {
            auto records = consumer_->poll(std::chrono::milliseconds(100));
            if (!failures.expect_ok(records.status(), name + " poll")) return;
            std::lock_guard lock(mutex_);
            for (const auto& r : *records) seen_.insert(*r.record.value);
          }
        }) {}
  ~BackgroundConsumer() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  bool saw_all(const std::set<std::string>& values) {
    std::lock_guard lock(mutex_);
    return std::includes(seen_.begin(), seen_.end(), values.begin(), values.end());
  }

 private:
  std::unique_ptr<Consumer> consumer_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::set<std::string> seen_;
  std::thread thread_;
};

}  // namespace

TEST_CASE("ProducersAndConsumersRideOutABrokerRestart", "[integration][restart]") {
  // A SIGKILL keeps the page cache; a power cut keeps only what was synced,
  // so records appended and not yet synced (syncs take 20 ms) are lost,
  // and the producers must send them again (idempotence: once).
  enum class End { stop, kill, power_cut };
  auto end = GENERATE(End::kill, End::stop, End::power_cut);
  CAPTURE(static_cast<int>(end));
  SyncJournal journal;
  SingleBroker cluster(journal.broker_args(/*sync_delay_ms=*/20));
  cluster.create_topic("steady", 2);
  OffThreadFailures failures;

  auto plain = cluster.consumer(OffsetReset::earliest);
  REQUIRE(plain->assign({{"steady", 0}, {"steady", 1}}).ok());
  BackgroundConsumer plain_reader(std::move(plain), failures, "plain consumer");
  ConsumerOptions group_options;
  group_options.client = cluster.client_options();
  group_options.group_id = "riders";
  group_options.auto_offset_reset = OffsetReset::earliest;
  group_options.session_timeout_ms = 2'000;
  auto group = std::move(Consumer::create(group_options)).value();
  REQUIRE(group->subscribe({"steady"}).ok());
  BackgroundConsumer group_reader(std::move(group), failures, "group consumer");

  // The CLI reads its input slowly, across the restart.
  CommandResult cli;
  std::thread cli_producer([&] {
    cli = run_command(fmt::format("for i in $(seq 0 199); do echo cli-$i; sleep 0.02; done | {} produce steady "
                                  "--brokers {} 2>&1", bin_path("cairn"), cluster.broker.address()));
  });

  // The library: every record acknowledged once, in send order per partition.
  constexpr int kRecords = 2000;
  std::mutex mutex;
  std::map<int, RecordMetadata> acked;  // by send index
  std::chrono::milliseconds cpu_while_down{0};
  std::set<std::string> values;
  {
    auto producer = cluster.producer();
    for (int i = 0; i < kRecords; ++i) {
      std::string value = "lib-" + std::to_string(i);
      values.insert(value);
      producer->send({.topic = "steady", .value = value, .partition = i % 2}, [&, i](const Result<RecordMetadata>& r) {
        if (!failures.expect_ok(r.status(), "send " + std::to_string(i))) return;
        std::lock_guard lock(mutex);
        if (!acked.emplace(i, *r).second) failures.add("send " + std::to_string(i) + " acknowledged twice");
      });
      if (i == kRecords / 4) {
        if (end == End::stop) {
          cluster.broker.stop();
        } else {
          cluster.broker.kill();
        }
        auto cpu_before = process_cpu_time();
        std::this_thread::sleep_for(std::chrono::seconds(1));  // down for a while
        cpu_while_down = process_cpu_time() - cpu_before;
        if (end == End::power_cut) CHECK(journal.cut().bytes_dropped > 0);  // took what a SIGKILL keeps
        REQUIRE(cluster.broker.start().ok());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    producer->flush();
  }
  cli_producer.join();
  // The producer and the consumers back off while the broker is down, rather
  // than spin (this test thread sleeps meanwhile).
  INFO("CPU used while the broker was down: " << cpu_while_down.count() << " ms");
  CHECK(cpu_while_down < std::chrono::milliseconds(300));
  CHECK(cli.exit_code == 0);
  CHECK_THAT(cli.output, Catch::Contains("produced 200 record(s) to steady"));
  for (int i = 0; i < 200; ++i) values.insert("cli-" + std::to_string(i));

  CHECK(eventually([&] { return plain_reader.saw_all(values) && group_reader.saw_all(values); },
                   std::chrono::seconds(20)));
  plain_reader.stop();
  group_reader.stop();
  CHECK_NO_OFF_THREAD_FAILURES(failures);

  std::lock_guard lock(mutex);
  REQUIRE(acked.size() == kRecords);
  std::map<int32_t, Offset> last;
  for (const auto& [i, metadata] : acked) {
    auto [it, first] = last.emplace(metadata.partition, metadata.offset);
    if (!first) {
      INFO("send " << i);
      REQUIRE(metadata.offset > it->second);
      it->second = metadata.offset;
    }
  }
  // Each acknowledged offset holds its record (a retry may have written a
  // record twice: delivery is at least once).
  std::map<int32_t, std::map<Offset, std::string>> stored;
  auto reader = cluster.consumer(OffsetReset::earliest);
  REQUIRE(reader->assign({{"steady", 0}, {"steady", 1}}).ok());
  for (const auto& r : consume(*reader, SIZE_MAX, std::chrono::seconds(2))) {
    stored[r.partition][r.record.offset] = *r.record.value;
  }
  for (const auto& [i, metadata] : acked) {
    INFO("send " << i);
    CHECK(stored[metadata.partition][metadata.offset] == "lib-" + std::to_string(i));
  }
}
