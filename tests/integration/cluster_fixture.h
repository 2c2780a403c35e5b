#pragma once

// A fixture with one real cairnd in a temp folder and clients bound to it.

#include <catch2/catch.hpp>

#include <chrono>
#include <mutex>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "broker_process.h"
#include "cairn/admin.h"
#include "cairn/consumer.h"
#include "cairn/producer.h"
#include "proto/strong_int.h"
#include "proto/topic_partition.h"
#include "storage/power_loss_journal.h"

namespace cairn::testing {

class TempFolder {
 public:
  TempFolder() {
    std::random_device rd;
    path_ = (std::filesystem::temp_directory_path() / ("cairn-it-" + std::to_string(rd()))).string();
    std::filesystem::create_directories(path_);
  }
  // Never throws: a destructor may run while a failed check unwinds.
  ~TempFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Power cuts of a broker alone. The broker, started with broker_args(),
// records what each of its syncs made durable; once it is killed, cut()
// takes its files back to what a power loss leaves: only synced bytes and
// folder entries (storage::cut_power). A SIGKILL alone keeps the page cache.
class SyncJournal {
 public:
  // cairnd's arguments; each sync slowed by `sync_delay_ms`, so that
  // appended, unsynced bytes are there for a cut to take.
  std::vector<std::string> broker_args(int sync_delay_ms = 0) const {
    std::vector<std::string> args{"--test-sync-journal", path()};
    if (sync_delay_ms > 0) args.insert(args.end(), {"--test-sync-delay-ms", std::to_string(sync_delay_ms)});
    return args;
  }
  storage::PowerCut cut() const {
    auto cut = storage::cut_power(path());
    INFO(cut.status().to_string());
    REQUIRE(cut.ok());
    return *cut;
  }

 private:
  std::string path() const { return folder_.path() + "/syncs"; }
  TempFolder folder_;
};

struct SingleBroker {
  TempFolder folder;
  BrokerProcess broker;
  std::unique_ptr<Admin> admin;

  explicit SingleBroker(std::vector<std::string> extra_args = {})
      : broker(folder.path() + "/broker", std::move(extra_args)) {
    Status started = broker.start();
    INFO(started.to_string());
    REQUIRE(started.ok());
    auto connected = Admin::connect(client_options());
    REQUIRE(connected.ok());
    admin = std::move(*connected);
  }

  ClientOptions client_options() const {
    ClientOptions options;
    options.bootstrap_brokers = {broker.address()};
    options.request_timeout_ms = 10'000;
    return options;
  }

  std::unique_ptr<Producer> producer(Acks acks = Acks::all, int32_t delivery_timeout_ms = 30'000) {
    ProducerOptions options;
    options.client = client_options();
    options.acks = acks;
    options.delivery_timeout_ms = delivery_timeout_ms;
    auto created = Producer::create(options);
    REQUIRE(created.ok());
    return std::move(*created);
  }

  std::unique_ptr<Consumer> consumer(OffsetReset reset = OffsetReset::earliest) {
    ConsumerOptions options;
    options.client = client_options();
    options.auto_offset_reset = reset;
    options.fetch_max_wait_ms = 200;
    auto created = Consumer::create(options);
    REQUIRE(created.ok());
    return std::move(*created);
  }

  void create_topic(const std::string& name, int32_t partitions,
                    const std::map<std::string, std::string>& configs = {}) {
    Status created = admin->create_topic(name, partitions, configs);
    INFO(created.to_string());
    REQUIRE(created.ok());
  }
};

// Catch2 v2 is not thread-safe: threads other than the test's (and client
// callbacks) record what went wrong here, and the test thread checks
// `empty()` after joining them.
class OffThreadFailures {
 public:
  void add(std::string what) {
    std::lock_guard lock(mutex_);
    failures_.push_back(std::move(what));
  }
  // Records `status` unless it is ok; returns whether it was.
  bool expect_ok(const Status& status, std::string_view what) {
    if (!status.ok()) add(std::string(what) + ": " + status.to_string());
    return status.ok();
  }
  std::string summary() const {
    std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& f : failures_) out += f + "\n";
    return out;
  }
  bool empty() const {
    std::lock_guard lock(mutex_);
    return failures_.empty();
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> failures_;
};

#define CHECK_NO_OFF_THREAD_FAILURES(failures) \
  do {                                         \
    INFO((failures).summary());                \
    CHECK((failures).empty());                 \
  } while (0)

// Evaluates `condition` until it holds or `timeout` passed; returns whether
// it held. `condition` may do work (poll a consumer); between tries it waits
// 20 ms.
inline bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// Sends batches of 10 records ("old0".., then "mid", then "new") to
// partition 0 of `topic` until retention deleted its first segment; returns
// the new log start. The topic needs short segment.ms and retention.ms
// (e.g. 300 and 600) and the broker a short --retention-check-interval-ms.
inline Offset produce_until_retention_moves_the_start(SingleBroker& cluster, const std::string& topic) {
  auto producer = cluster.producer();
  OffThreadFailures failures;
  auto send_batch = [&](const std::string& tag) {
    for (int i = 0; i < 10; ++i) {
      producer->send({.topic = topic, .value = tag + std::to_string(i), .partition = 0},
                     [&](const Result<RecordMetadata>& r) { failures.expect_ok(r.status(), "send"); });
    }
    producer->flush();
  };
  send_batch("old");
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  send_batch("mid");  // rolls the first segment (older than segment.ms)
  Offset earliest(0);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (earliest == Offset(0) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    send_batch("new");  // keeps rolling segments so old ones close and expire
    earliest = *cluster.admin->list_offset(topic, 0, OffsetSpec::earliest());
  }
  CHECK_NO_OFF_THREAD_FAILURES(failures);
  REQUIRE(earliest > Offset(0));
  return earliest;
}

// Polls until `count` records arrived or `timeout` passed without progress.
// Off the test thread, pass `failures`: a failed poll is recorded there and
// ends the call instead of asserting.
inline std::vector<ConsumerRecord> consume(Consumer& consumer, size_t count,
                                           std::chrono::milliseconds idle_timeout = std::chrono::seconds(5),
                                           OffThreadFailures* failures = nullptr) {
  std::vector<ConsumerRecord> out;
  auto last_progress = std::chrono::steady_clock::now();
  while (out.size() < count && std::chrono::steady_clock::now() - last_progress < idle_timeout) {
    auto records = consumer.poll(std::chrono::milliseconds(200));
    if (failures) {
      if (!failures->expect_ok(records.status(), "poll")) return out;
    } else {
      INFO(records.status().to_string());
      REQUIRE(records.ok());
    }
    if (!records->empty()) last_progress = std::chrono::steady_clock::now();
    for (auto& r : *records) out.push_back(std::move(r));
  }
  return out;
}

}  // namespace cairn::testing

namespace Catch {
template <typename Tag>
struct StringMaker<cairn::StrongInt<Tag>> {
  static std::string convert(cairn::StrongInt<Tag> v) { return std::to_string(v.value); }
};
}  // namespace Catch
