#include "broker/share/dead_letter_sink.h"

#include <spdlog/spdlog.h>

namespace cairn::broker {

namespace {

// A letter not written within this is failed, and moved again by the
// coordinator's next sweep; also what close() waits for at most.
constexpr int32_t kDeliveryTimeoutMs = 10'000;

}  // namespace

DeadLetterSink::DeadLetterSink(std::function<std::vector<std::string>()> bootstrap)
    : bootstrap_(std::move(bootstrap)) {}

DeadLetterSink::~DeadLetterSink() { close(); }

Status DeadLetterSink::connect_locked() {
  if (closed_) return error(ErrorCode::shutting_down, "the broker is shutting down");
  if (producer_) return {};
  ClientOptions client;
  client.bootstrap_brokers = bootstrap_();
  client.request_timeout_ms = kDeliveryTimeoutMs;
  auto admin = Admin::connect(client);
  if (!admin.ok()) return admin.status();
  ProducerOptions options;
  options.client = client;
  options.acks = Acks::all;
  options.delivery_timeout_ms = kDeliveryTimeoutMs;
  options.max_block_ms = 0;  // never holds up the coordinator's sweep
  auto producer = Producer::create(options);
  if (!producer.ok()) return producer.status();
  admin_ = std::move(*admin);
  producer_ = std::move(*producer);
  return {};
}

Result<int32_t> DeadLetterSink::ensure_topic(const std::string& topic, int32_t partitions) {
  std::lock_guard lock(mutex_);
  auto known = known_topics_.find(topic);
  if (known != known_topics_.end()) return known->second;
  CAIRN_RETURN_IF_ERROR(connect_locked());
  auto described = admin_->describe_topic(topic);
  if (described.ok()) {
    partitions = static_cast<int32_t>(described->partitions.size());
  } else {
    Status created = admin_->create_topic(NewTopic{topic, partitions, 0, {}});
    if (created.code() == ErrorCode::topic_already_exists) return created;  // by another: count it next time
    CAIRN_RETURN_IF_ERROR(created);
    spdlog::info("created dead-letter topic {} with {} partition(s)", topic, partitions);
  }
  known_topics_[topic] = partitions;
  return partitions;
}

void DeadLetterSink::send(const TopicPartition& tp, const Record& record, std::function<void(Status)> done) {
  // Held while sending, so close() cannot end the producer meanwhile. The
  // callback may run at once (a send refused): `done` must not take this
  // lock, and the coordinator never calls in here holding its own.
  std::lock_guard lock(mutex_);
  Status connected = connect_locked();
  if (!connected.ok()) {
    done(connected);
    return;
  }
  producer_->send({.topic = tp.topic,
                   .key = record.key,
                   .value = record.value,
                   .headers = record.headers,
                   .partition = tp.partition,
                   .timestamp_ms = record.timestamp_ms},
                  [done = std::move(done)](const Result<RecordMetadata>& written) { done(written.status()); });
}

void DeadLetterSink::close() {
  std::unique_ptr<Producer> producer;
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    producer = std::move(producer_);
    admin_.reset();
  }
  if (producer) producer->close();
}

}  // namespace cairn::broker
