#include "broker/share/dead_letter_sink.h"

#include <spdlog/spdlog.h>

#include "proto/thread_name.h"

namespace cairn::broker {

namespace {

// A letter not written within this is failed, and moved again by the
// coordinator's next sweep; also what close() waits for at most.
constexpr int32_t kDeliveryTimeoutMs = 10'000;

}  // namespace

DeadLetterSink::DeadLetterSink(std::function<std::vector<std::string>()> bootstrap)
    : bootstrap_(std::move(bootstrap)), thread_([this] {
        name_this_thread("cairn-dead-letter");
        run();
      }) {}

DeadLetterSink::~DeadLetterSink() { close(); }

void DeadLetterSink::write(std::string topic, int32_t partitions, int32_t source_partition, Record record,
                           std::function<void(Status)> done) {
  {
    std::lock_guard lock(mutex_);
    if (!closed_) {
      queue_.push_back({std::move(topic), partitions, source_partition, std::move(record), std::move(done)});
      wake_.notify_one();
      return;
    }
  }
  done(error(ErrorCode::shutting_down, "the broker is shutting down"));
}

void DeadLetterSink::run() {
  for (;;) {
    Letter letter;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return closed_ || !queue_.empty(); });
      if (closed_) return;
      letter = std::move(queue_.front());
      queue_.pop_front();
    }
    send(std::move(letter));
  }
}

void DeadLetterSink::send(Letter letter) {
  Status connected = connect();
  if (!connected.ok()) {
    letter.done(connected);
    return;
  }
  auto partitions = ensure_topic(letter.topic, letter.partitions);
  if (!partitions.ok()) {
    letter.done(partitions.status());
    return;
  }
  int32_t partition = letter.source_partition % *partitions;
  producer_->send({.topic = letter.topic,
                   .key = std::move(letter.record.key),
                   .value = std::move(letter.record.value),
                   .headers = std::move(letter.record.headers),
                   .partition = partition,
                   .timestamp_ms = letter.record.timestamp_ms},
                  [this, topic = letter.topic, done = std::move(letter.done)](const Result<RecordMetadata>& written) {
                    // A topic deleted (and perhaps made again) since it was counted.
                    if (written.status().code() == ErrorCode::unknown_topic_or_partition) {
                      std::lock_guard lock(mutex_);
                      partition_counts_.erase(topic);
                    }
                    done(written.status());
                  });
}

Status DeadLetterSink::connect() {
  if (producer_) return {};
  ClientOptions client;
  client.bootstrap_brokers = bootstrap_();
  if (client.bootstrap_brokers.empty()) return error(ErrorCode::broker_unavailable, "the broker does not serve yet");
  client.request_timeout_ms = kDeliveryTimeoutMs;
  auto admin = Admin::connect(client);
  if (!admin.ok()) return admin.status();
  ProducerOptions options;
  options.client = client;
  options.acks = Acks::all;
  options.delivery_timeout_ms = kDeliveryTimeoutMs;
  auto producer = Producer::create(options);
  if (!producer.ok()) return producer.status();
  admin_ = std::move(*admin);
  producer_ = std::move(*producer);
  return {};
}

Result<int32_t> DeadLetterSink::ensure_topic(const std::string& topic, int32_t partitions) {
  {
    std::lock_guard lock(mutex_);
    auto known = partition_counts_.find(topic);
    if (known != partition_counts_.end()) return known->second;
  }
  auto described = admin_->describe_topic(topic);
  if (described.ok()) {
    partitions = static_cast<int32_t>(described->partitions.size());
  } else {
    Status created = admin_->create_topic(NewTopic{topic, partitions, 0, {}});
    if (created.code() == ErrorCode::topic_already_exists) return created;  // by another: counted next time
    CAIRN_RETURN_IF_ERROR(created);
    spdlog::info("created dead-letter topic {} with {} partition(s)", topic, partitions);
  }
  std::lock_guard lock(mutex_);
  partition_counts_[topic] = partitions;
  return partitions;
}

void DeadLetterSink::close() {
  std::deque<Letter> unsent;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
    unsent.swap(queue_);
    wake_.notify_one();
  }
  thread_.join();
  for (auto& letter : unsent) letter.done(error(ErrorCode::shutting_down, "the broker is shutting down"));
  if (producer_) producer_->close();  // its callbacks run before it returns
}

}  // namespace cairn::broker
