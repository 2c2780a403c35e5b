#include "broker/produce_handler.h"

#include <limits>

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
  bool wait_durable = request.acks() == v1::ACKS_ALL;
  response->set_request_id(request.request_id());
  response->mutable_results()->Reserve(request.partitions_size());
  for (const auto& data : request.partitions()) {
    auto* result = response->add_results();
    result->set_topic(data.topic());
    result->set_partition(data.partition());
    result->set_base_offset(-1);
    result->set_last_offset(-1);
    if (Status refused = refuse_if_internal(data.topic(), "produce to"); !refused.ok()) {
      to_proto(refused, result->mutable_error());
      continue;
    }
    auto partition = partition_for_produce({data.topic(), data.partition()});
    if (!partition) {
      to_proto(topics_.why_no_partition({data.topic(), data.partition()}), result->mutable_error());
      continue;
    }
    auto appended = append(*partition, data, abandoned);
    if (!appended.ok()) {
      to_proto(appended.status(), result->mutable_error());
      continue;
    }
    metrics_.appended(data.topic(), appended->last_offset - appended->base_offset + 1,
                      static_cast<int64_t>(data.has_records() ? data.records().ByteSizeLong() : data.batches().size()));
    result->set_base_offset(appended->base_offset.value);
    result->set_last_offset(appended->last_offset.value);
    result->set_append_time_ms(appended->append_time_ms);
    result->set_log_start_offset(partition->log_start().value);
    if (!wait_durable) continue;
    op->expect(result);
    partition->when_committed(*appended,
                              [op, result](Status s) { op->complete(result, s); });
  }
  int32_t timeout_ms = request.timeout_ms() > 0 ? request.timeout_ms() : kDefaultProduceTimeoutMs;
  op->arm(io_, timeout_ms);
  return true;
}

}  // namespace cairn::broker
