#include "broker/produce_handler.h"

#include <limits>
#include <numeric>
#include <optional>

#include <spdlog/spdlog.h>

#include "broker/produce_operation.h"
#include "proto/byte_io.h"
#include "proto/record_batch.h"
#include "storage/clock.h"
#include "proto/rpc_error.h"

namespace cairn::broker {

constexpr int32_t kDefaultProduceTimeoutMs = 30'000;

ProduceHandler::ProduceHandler(const BrokerConfig& config, TopicManager& topics,
                               asio::io_context& io, BrokerMetrics& metrics)
    : config_(config), topics_(topics), io_(io), metrics_(metrics) {}

std::shared_ptr<Partition> ProduceHandler::partition_for_produce(const TopicPartition& tp) {
  if (auto partition = topics_.partition(tp)) return partition;
  if (!config_.auto_create_topics) return nullptr;
  topics_.create_on_first_use(tp.topic, config_.default_partitions);
  return topics_.partition(tp);
}

namespace {

// Splits concatenated batches at their length fields; the log validates
// each before it appends any (PartitionLog::append is all or nothing).
Result<std::vector<std::span<const std::byte>>> split_batches(std::span<const std::byte> data) {
  std::vector<std::span<const std::byte>> batches;
  if (data.empty()) return error(ErrorCode::invalid_request, "no record batches given");
  while (!data.empty()) {
    auto header = parse_batch_header(data, std::numeric_limits<int32_t>::max());
    if (!header.ok()) return header.status();
    if (header->size_bytes() > data.size()) {
      return error(ErrorCode::corrupt_batch, "batch says {} bytes but {} remain",
                   header->size_bytes(), data.size());
    }
    if (header->is_control()) {
      return error(ErrorCode::invalid_request,
                   "a control batch (attribute bit 5) is the broker's own entry; producers may "
                   "not write one");
    }
    batches.push_back(data.subspan(0, header->size_bytes()));
    data = data.subspan(header->size_bytes());
  }
  return batches;
}

Result<std::string> batch_from_records(const v1::RecordList& list, int64_t now_ms) {
  if (list.records().empty()) return error(ErrorCode::invalid_request, "no records given");
  RecordBatchBuilder builder;
  std::vector<RecordHeader> headers;
  for (const auto& r : list.records()) {
    headers.clear();
    for (const auto& h : r.headers()) {
      headers.push_back({h.key(), h.has_value() ? std::optional<std::string>(h.value()) : std::nullopt});
    }
    builder.add(r.has_key() ? std::optional<std::string_view>(r.key()) : std::nullopt,
                r.has_value() ? std::optional<std::string_view>(r.value()) : std::nullopt,
                headers, r.timestamp_ms() != 0 ? r.timestamp_ms() : now_ms);
  }
  return builder.build();
}

int64_t now_ms() { return storage::Clock::system().now_ms(); }

}  // namespace

Result<storage::AppendResult> ProduceHandler::append(Partition& partition,
                                                    const v1::PartitionProduce& data,
                                                    const std::function<bool()>& abandoned) {
  if (data.has_records()) {
    auto batch = batch_from_records(data.records(), now_ms());
    if (!batch.ok()) return batch.status();
    return partition.append(as_bytes(*batch));
  }
  auto batches = split_batches(as_bytes(data.batches()));
  if (!batches.ok()) return batches.status();
  return partition.append(*batches, abandoned);
}

bool ProduceHandler::refuse_request() {
  int32_t every = config_.test_refuse_produce_every;
  return every > 0 && ++requests_ % every == 0;
}

bool ProduceHandler::drop_response() {
  int32_t every = config_.test_drop_produce_responses_every;
  if (every <= 0 || ++responses_ % every != 0) return false;
  spdlog::warn("dropping a produce response (--test-drop-produce-responses-every {})", every);
  return true;
}

bool ProduceHandler::handle(const v1::ProduceRequest& request, v1::ProduceResponse* response,
                            std::function<void()> done, const std::function<bool()>& abandoned) {
  auto bytes = static_cast<int64_t>(request.ByteSizeLong());
  if (inflight_bytes_.fetch_add(bytes) + bytes > config_.max_inflight_produce_bytes) {
    inflight_bytes_ -= bytes;
    metrics_.produce_refused(request.partitions_size());
    return false;
  }
  auto arrived = std::chrono::steady_clock::now();
  auto op = std::make_shared<ProduceOperation>([this, bytes, arrived, response, done = std::move(done)] {
    inflight_bytes_ -= bytes;
    metrics_.produce_answered(*response, std::chrono::steady_clock::now() - arrived);
    done();
  });
  Answer answer{op, request.acks() == v1::ACKS_ALL, abandoned};
  response->set_request_id(request.request_id());
  response->mutable_results()->Reserve(request.partitions_size());
  for (const auto& data : request.partitions()) {
    auto* result = response->add_results();
    result->set_topic(data.topic());
    result->set_partition(data.partition());
    result->set_base_offset(-1);
    result->set_last_offset(-1);
  }
  if (refuse_request()) {
    Status refused = error(ErrorCode::not_leader, "refused on purpose (--test-refuse-produce-every {})",
                           config_.test_refuse_produce_every);
    for (auto& result : *response->mutable_results()) to_proto(refused, result.mutable_error());
    op->arm(io_, kDefaultProduceTimeoutMs);
    return true;
  }
  const auto& entries = request.partitions();
  for (int first = 0; first < entries.size();) {
    int end = first + 1;
    while (end < entries.size() && same_partition_batches(entries[first], entries[end])) ++end;
    answer_run(request, first, end, *response, answer);
    first = end;
  }
  int32_t timeout_ms = request.timeout_ms() > 0 ? request.timeout_ms() : kDefaultProduceTimeoutMs;
  op->arm(io_, timeout_ms);
  return true;
}

bool ProduceHandler::same_partition_batches(const v1::PartitionProduce& a, const v1::PartitionProduce& b) {
  return a.has_batches() && b.has_batches() && a.partition() == b.partition() && a.topic() == b.topic();
}

void ProduceHandler::answer_run(const v1::ProduceRequest& request, int first, int end,
                                v1::ProduceResponse& response, const Answer& answer) {
  const auto& data = request.partitions(first);
  TopicPartition tp{data.topic(), data.partition()};
  Status refused = refuse_if_internal(tp.topic, "produce to");
  auto partition = refused.ok() ? partition_for_produce(tp) : nullptr;
  if (refused.ok() && !partition) refused = topics_.why_no_partition(tp);
  if (!refused.ok()) {
    for (int i = first; i < end; ++i) to_proto(refused, response.mutable_results(i)->mutable_error());
    return;
  }
  if (end - first > 1 && append_together(*partition, request, first, end, response, answer)) return;
  for (int i = first; i < end; ++i) {
    const auto& entry = request.partitions(i);
    auto appended = append(*partition, entry, answer.abandoned);
    int64_t bytes = static_cast<int64_t>(entry.has_records() ? entry.records().ByteSizeLong() : entry.batches().size());
    v1::PartitionProduceResult* result = response.mutable_results(i);
    answer_appended(*partition, appended, bytes, {&result, 1}, answer);
  }
}

bool ProduceHandler::append_together(Partition& partition, const v1::ProduceRequest& request, int first,
                                     int end, v1::ProduceResponse& response, const Answer& answer) {
  std::vector<std::span<const std::byte>> batches;
  std::vector<int64_t> records;  // per entry
  int64_t bytes = 0;
  std::optional<int64_t> producer;
  for (int i = first; i < end; ++i) {
    auto split = split_batches(as_bytes(request.partitions(i).batches()));
    if (!split.ok()) return false;
    int64_t count = 0;
    for (auto batch : *split) {
      auto header = parse_batch_header(batch, batch.size());
      if (!header.ok()) return false;
      // One producer's batches of one append follow its sequences (else
      // refused), so its retries' first attempts are in this order: they
      // lie together exactly when their span holds them all. Several
      // producers' retries could fill a span out of order.
      if (producer.value_or(header->producer_id) != header->producer_id) return false;
      producer = header->producer_id;
      count += header->last_offset_delta + 1;
    }
    records.push_back(count);
    bytes += static_cast<int64_t>(request.partitions(i).batches().size());
    batches.insert(batches.end(), split->begin(), split->end());
  }
  auto appended = partition.append(batches, answer.abandoned);
  // Entry by entry, each with the reason that applies to it alone.
  if (!appended.ok()) return false;
  // Written now, the batches follow one another in the log; answered as a
  // retry, they do only if their first attempts did. Otherwise nothing was
  // written, and each entry learns its own offsets alone.
  int64_t total = std::accumulate(records.begin(), records.end(), int64_t{0});
  if (appended->last_offset.value - appended->base_offset.value + 1 != total) return false;
  std::vector<v1::PartitionProduceResult*> results;
  Offset base = appended->base_offset;
  for (int i = first; i < end; ++i) {
    auto* result = response.mutable_results(i);
    result->set_base_offset(base.value);
    base = base + records[static_cast<size_t>(i - first)];
    result->set_last_offset(base.value - 1);
    results.push_back(result);
  }
  answer_appended(partition, appended, bytes, results, answer);
  return true;
}

void ProduceHandler::answer_appended(Partition& partition, const Result<storage::AppendResult>& appended,
                                     int64_t bytes, std::span<v1::PartitionProduceResult* const> results,
                                     const Answer& answer) {
  if (!appended.ok()) {
    for (auto* result : results) to_proto(appended.status(), result->mutable_error());
    return;
  }
  metrics_.appended(results.front()->topic(), appended->last_offset - appended->base_offset + 1, bytes);
  for (auto* result : results) {
    if (results.size() == 1) {
      result->set_base_offset(appended->base_offset.value);
      result->set_last_offset(appended->last_offset.value);
    }
    result->set_append_time_ms(appended->append_time_ms);
    result->set_log_start_offset(partition.log_start().value);
    if (answer.wait_durable) answer.op->expect(result);
  }
  if (!answer.wait_durable) return;
  std::vector<v1::PartitionProduceResult*> waiting(results.begin(), results.end());
  partition.when_committed(*appended, [op = answer.op, waiting = std::move(waiting)](Status s) {
    for (auto* result : waiting) op->complete(result, s);
  });
}

}  // namespace cairn::broker
