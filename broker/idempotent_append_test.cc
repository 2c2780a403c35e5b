// Idempotent producers at one partition (ProducerStates behind
// Partition::append): a retried batch is answered with where its first
// attempt landed and never written twice; gaps and fenced epochs are
// refused without writing; the state comes back from the log after a
// crash and after a power loss, and only what the log still holds counts.

#include <catch2/catch.hpp>

#include <limits>

#include "broker/partition.h"
#include "broker/producer_states.h"
#include "storage/test_util.h"

using namespace cairn;
using namespace cairn::broker;
using cairn::storage::CrashMode;
using cairn::storage::testing::StoreFixture;

namespace {

constexpr int64_t kProducer = 42;

// `count` records "<tag>-<i>" from producer `id`, first sequence `sequence`.
std::string producer_batch(int16_t epoch, int32_t sequence, int count, const std::string& tag,
                           int64_t id = kProducer) {
  RecordBatchBuilder builder;
  for (int i = 0; i < count; ++i) {
    builder.add(std::nullopt, tag + "-" + std::to_string(i), {}, 1'000 + i);
  }
  builder.set_producer(id, epoch, sequence);
  return builder.build().value();
}

Result<storage::AppendResult> append(Partition& partition, const std::string& batch) {
  return partition.append(as_bytes(batch));
}

Result<storage::AppendResult> append(Partition& partition, const std::vector<std::string>& batches) {
  std::vector<std::span<const std::byte>> spans;
  for (const auto& b : batches) spans.push_back(as_bytes(b));
  return partition.append(spans);
}

void require_at(const Result<storage::AppendResult>& appended, int64_t base, int64_t last) {
  INFO(appended.status().to_string());
  REQUIRE(appended.ok());
  CHECK(appended->base_offset == Offset(base));
  CHECK(appended->last_offset == Offset(last));
}

void require_refused(const Result<storage::AppendResult>& appended, ErrorCode code) {
  INFO(appended.status().to_string());
  REQUIRE_FALSE(appended.ok());
  CHECK(appended.status().code() == code);
}

}  // namespace

TEST_CASE("IdempotentAppend.ARetryIsAnsweredWithItsFirstOffsetsAndNotWrittenAgain", "[idempotence]") {
  StoreFixture store;
  auto log = store.log();
  auto partition = Partition::serve(store.tp, log);
  std::string a = producer_batch(0, 0, 3, "a");
  std::string b = producer_batch(0, 3, 2, "b");
  require_at(append(*partition, a), 0, 2);
  require_at(append(*partition, b), 3, 4);
  require_at(append(*partition, a), 0, 2);  // an older batch, still remembered
  require_at(append(*partition, b), 3, 4);
  require_at(append(*partition, b), 3, 4);
  CHECK(log->log_end() == Offset(5));
  CHECK(storage::testing::values_of(*log) == std::vector<std::string>{"a-0", "a-1", "a-2", "b-0", "b-1"});
}

TEST_CASE("IdempotentAppend.AGapAFencedEpochAndAnUnknownProducerMidStreamAreRefused", "[idempotence]") {
  StoreFixture store;
  auto log = store.log();
  auto partition = Partition::serve(store.tp, log);
  require_refused(append(*partition, producer_batch(0, 7, 1, "x")), ErrorCode::out_of_order_sequence);
  require_at(append(*partition, producer_batch(0, 0, 3, "a")), 0, 2);
  require_refused(append(*partition, producer_batch(0, 5, 1, "gap")), ErrorCode::out_of_order_sequence);
  // A new epoch starts at 0, and fences the old one.
  require_refused(append(*partition, producer_batch(1, 3, 1, "late")), ErrorCode::out_of_order_sequence);
  require_at(append(*partition, producer_batch(1, 0, 1, "e1")), 3, 3);
  require_refused(append(*partition, producer_batch(0, 3, 1, "fenced")), ErrorCode::invalid_producer_epoch);
  // Batches without a producer id are not checked.
  require_at(append(*partition, storage::testing::make_batch(2, 1'000, "plain")), 4, 5);
  CHECK(log->log_end() == Offset(6));
}

TEST_CASE("IdempotentAppend.OnlyTheLastFewBatchesOfAProducerAreRecognised", "[idempotence]") {
  StoreFixture store;
  auto partition = Partition::serve(store.tp, store.log());
  // Two batches more than a partition remembers: the first two are forgotten.
  const int count = static_cast<int>(ProducerStates::kBatchesKept) + 2;
  std::vector<std::string> batches;
  for (int i = 0; i < count; ++i) {
    batches.push_back(producer_batch(0, i * 2, 2, "b" + std::to_string(i)));
    require_at(append(*partition, batches.back()), i * 2, i * 2 + 1);
  }
  require_refused(append(*partition, batches[0]), ErrorCode::duplicate_sequence);
  require_refused(append(*partition, batches[1]), ErrorCode::duplicate_sequence);
  require_at(append(*partition, batches[2]), 4, 5);  // the oldest remembered
  require_at(append(*partition, batches[count - 1]), (count - 1) * 2, (count - 1) * 2 + 1);
}

TEST_CASE("IdempotentAppend.BatchesOfOneRequestFollowEachOtherAndARetryIsNotMixedWithNewOnes", "[idempotence]") {
  StoreFixture store;
  auto partition = Partition::serve(store.tp, store.log());
  std::string a = producer_batch(0, 0, 2, "a");
  std::string b = producer_batch(0, 2, 2, "b");
  require_at(append(*partition, std::vector<std::string>{a, b}), 0, 3);
  require_at(append(*partition, std::vector<std::string>{a, b}), 0, 3);  // the whole request retried
  require_refused(append(*partition, std::vector<std::string>{producer_batch(0, 4, 1, "c"), producer_batch(0, 6, 1, "d")}),
                  ErrorCode::out_of_order_sequence);
  require_refused(append(*partition, std::vector<std::string>{b, producer_batch(0, 4, 1, "c")}),
                  ErrorCode::invalid_request);
  // Two producers in one request, each in order.
  require_at(append(*partition, std::vector<std::string>{producer_batch(0, 4, 1, "c"), producer_batch(0, 0, 1, "other", 7)}), 4, 5);
}

TEST_CASE("IdempotentAppend.TheStateIsRebuiltFromTheLogAfterACrash", "[idempotence]") {
  StoreFixture store;
  std::string a = producer_batch(0, 0, 3, "a");
  std::string b = producer_batch(0, 3, 2, "b");
  {
    auto log = store.log();
    auto partition = Partition::serve(store.tp, log);
    require_at(append(*partition, a), 0, 2);
    require_at(append(*partition, b), 3, 4);
  }
  store.crash(CrashMode::process);
  auto log = store.log();
  auto partition = Partition::serve(store.tp, log);
  require_at(append(*partition, b), 3, 4);
  require_at(append(*partition, a), 0, 2);
  require_refused(append(*partition, producer_batch(0, 6, 1, "gap")), ErrorCode::out_of_order_sequence);
  require_at(append(*partition, producer_batch(0, 5, 1, "c")), 5, 5);
  CHECK(log->log_end() == Offset(6));
}

TEST_CASE("IdempotentAppend.ABatchAPowerLossTookIsWrittenAgainNotTakenForARetry", "[idempotence]") {
  StoreFixture store(storage::testing::kModelPowerLoss);
  std::string a = producer_batch(0, 0, 3, "a");
  std::string b = producer_batch(0, 3, 2, "b");
  {
    auto log = store.log(storage::testing::manual_flush_config());
    auto partition = Partition::serve(store.tp, log);
    require_at(append(*partition, a), 0, 2);
    REQUIRE(partition->commit_now().ok());
    require_at(append(*partition, b), 3, 4);  // never synced
  }
  store.crash(CrashMode::power_loss);
  auto log = store.log(storage::testing::manual_flush_config());
  REQUIRE(log->log_end() == Offset(3));
  auto partition = Partition::serve(store.tp, log);
  require_at(append(*partition, b), 3, 4);  // written: the log no longer holds it
  require_at(append(*partition, a), 0, 2);  // a retry: it does
  CHECK(storage::testing::values_of(*log) == std::vector<std::string>{"a-0", "a-1", "a-2", "b-0", "b-1"});
}

TEST_CASE("IdempotentAppend.SequencesWrapAfterTheLargestInt32", "[idempotence]") {
  ProducerStates states({"events", 0}, 60'000);
  BatchHeader last;
  last.producer_id = kProducer;
  last.producer_epoch = 0;
  last.base_sequence = std::numeric_limits<int32_t>::max() - 1;
  last.last_offset_delta = 1;  // sequences max - 1 and max
  last.base_offset = Offset(10);
  states.record(last, 0);
  BatchHeader next = last;
  next.base_sequence = 0;
  next.last_offset_delta = 0;
  auto verdict = states.check({&next, 1});
  REQUIRE(verdict.ok());
  CHECK_FALSE(verdict->has_value());  // new: it follows
  next.base_sequence = 1;
  CHECK(states.check({&next, 1}).status().code() == ErrorCode::out_of_order_sequence);
  auto retry = states.check({&last, 1});
  REQUIRE(retry.ok());
  REQUIRE(retry->has_value());
  CHECK((*retry)->base_offset == Offset(10));
}

TEST_CASE("IdempotentAppend.AProducerSilentForTheExpirationIsForgotten", "[idempotence]") {
  ProducerStates states({"events", 0}, 60'000);
  BatchHeader written;
  written.producer_id = kProducer;
  written.producer_epoch = 0;
  written.base_sequence = 0;
  states.record(written, 1'000);
  states.expire(61'000);
  CHECK(states.producer_count() == 1);
  states.expire(61'001);
  CHECK(states.producer_count() == 0);
}
