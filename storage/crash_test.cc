#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <thread>

#include "storage/test_util.h"

using namespace cairn;
using namespace cairn::storage;
using namespace cairn::storage::testing;

TEST_CASE("FlushedDataSurvivesCrashesAndTornTailsNeverCorrupt", "[crash]") {
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    StoreFixture f(kModelPowerLoss);
    LogConfig config = *LogConfig().with({{"segment.bytes", "8192"},
                                          {"flush.policy", "interval"},
                                          {"flush.ms", "1000000000"},
                                          {"flush.bytes", "1000000000"}});
    std::vector<std::string> appended;  // every value appended, in offset order
    size_t acknowledged = 0;            // values known flushed
    for (int round = 0; round < 4; ++round) {
      auto log = f.log(config);
      int appends = 5 + static_cast<int>(rng() % 30);
      for (int i = 0; i < appends; ++i) {
        std::string tag = "s" + std::to_string(seed) + "r" + std::to_string(round) + "i" + std::to_string(i);
        int count = 1 + static_cast<int>(rng() % 4);
        append(*log, make_batch(count, 1000, tag, rng() % 900));
        for (int k = 0; k < count; ++k) {
          appended.push_back(tag + "-" + std::to_string(k));
        }
        if (rng() % 5 == 0) {
          REQUIRE(log->flush_now().ok());
          acknowledged = appended.size();
        }
      }
      log.reset();
      // Every third round the machine loses power; the others are process
      // crashes, so a power loss also follows a crash-and-restart.
      f.crash(round % 3 == 2 ? CrashMode::power_loss : CrashMode::process, &rng);
      log = f.log(config);
      REQUIRE(log->log_end().value >= static_cast<int64_t>(acknowledged));
      REQUIRE(log->log_end().value <= static_cast<int64_t>(appended.size()));
      // What survived is exactly a prefix of what was appended.
      std::vector<std::string> values;
      Offset next(0);
      while (next < log->log_end()) {
        auto read = log->read(next, 1 << 20, Offset::max());
        REQUIRE(read.ok());
        for (const auto& r : decode_all(read->bytes)) {
          REQUIRE(r.offset == Offset(static_cast<int64_t>(values.size())));
          values.push_back(r.value->substr(0, r.value->find('x')));
        }
        next = read->next_offset;
      }
      for (size_t i = 0; i < values.size(); ++i) REQUIRE(values[i] == appended[i]);
      appended.resize(values.size());
      acknowledged = appended.size();  // recovery synced what it kept
    }
  }
}

TEST_CASE("ConcurrentAppendsShareSyncs", "[crash]") {
  StoreFixture f(kModelPowerLoss);
  auto log = f.log();  // on_append: every acknowledged append is durable
  // A sync as slow as a slow disk's: appends arriving meanwhile wait for
  // the next one, even with the threads scheduled apart on a busy machine.
  f.env.set_sync_delay(std::chrono::milliseconds(5));
  constexpr int kThreads = 8;
  constexpr int kAppendsPerThread = 100;
  int64_t syncs_before = f.env.sync_count();
  std::atomic<int> acknowledged{0};
  std::atomic<int> failed{0};  // Catch2 asserts only on the test thread
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&, t] {
      for (int i = 0; i < kAppendsPerThread; ++i) {
        std::string batch = make_batch(1, 1000, "t" + std::to_string(t), 100);
        auto result = log->append(as_bytes(batch), Term(1));
        std::promise<Status> flushed;
        if (result.ok()) {
          log->when_flushed(result->last_offset + 1, [&](Status s) { flushed.set_value(s); });
        }
        if (!result.ok() || !flushed.get_future().get().ok()) {
          ++failed;
          return;
        }
        ++acknowledged;
      }
    });
  }
  for (auto& p : producers) p.join();
  int64_t syncs = f.env.sync_count() - syncs_before;
  CHECK(failed == 0);
  CHECK(acknowledged == kThreads * kAppendsPerThread);
  CHECK(log->flushed() == log->log_end());
  // Group commit: far fewer syncs than acknowledged appends.
  CHECK(syncs < kThreads * kAppendsPerThread / 2);
  // Every acknowledged append survives a crash.
  log.reset();
  f.crash(CrashMode::power_loss);
  CHECK(f.log()->log_end() == Offset(kThreads * kAppendsPerThread));
}
