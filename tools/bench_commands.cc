#include "tools/bench_commands.h"

#include <atomic>
#include <chrono>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "cairn/admin.h"
#include "cairn/consumer.h"
#include "cairn/producer.h"
#include "cairn/share_consumer.h"
#include "proto/byte_io.h"
#include "tools/cli_common.h"
#include "tools/latency_histogram.h"

namespace cairn::tools {
namespace {

using SteadyClock = std::chrono::steady_clock;

int64_t micros_since(SteadyClock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - start).count();
}

struct BenchOptions {
  BrokerFlag brokers;
  std::string topic = "bench";
  int32_t partitions = 1;
  int64_t records = 1'000'000;
  int32_t record_size = 100;
  std::string acks = "1";
  int32_t batch_bytes = 64 * 1024;
  int32_t linger_ms = 5;
  int32_t sticky_partition_ms = ProducerOptions{}.sticky_partition_ms;
  std::string compression = "none";
  bool no_idempotence = false;
  int32_t producers = 1;
  double rate_mb = 20;  // e2e only
  double warmup_seconds = 2;  // e2e only
  int32_t workers = 4;  // queue only
  std::string group;    // queue only; empty: a new one per run
  bool json = false;
};

struct Summary {
  std::string name;
  int64_t records = 0;
  int64_t bytes = 0;
  double seconds = 0;
  const LatencyHistogram* latency = nullptr;
  int64_t errors = 0;
};

void print_summary(const Summary& s, bool json) {
  double rps = static_cast<double>(s.records) / s.seconds;
  double mbps = static_cast<double>(s.bytes) / 1e6 / s.seconds;
  if (json) {
    std::string latency;
    if (s.latency) {
      latency = fmt::format(
          R"(,"latency_ms":{{"mean":{:.3f},"p50":{:.3f},"p99":{:.3f},"p99_9":{:.3f},"max":{:.3f}}})",
          s.latency->mean() / 1e3, s.latency->percentile(50) / 1e3, s.latency->percentile(99) / 1e3,
          s.latency->percentile(99.9) / 1e3, s.latency->max() / 1e3);
    }
    fmt::print(R"({{"test":"{}","records":{},"bytes":{},"seconds":{:.3f},"records_per_sec":{:.0f},"mb_per_sec":{:.2f},"errors":{}{}}})"
               "\n",
               s.name, s.records, s.bytes, s.seconds, rps, mbps, s.errors, latency);
    return;
  }
  fmt::print("{}: {} records ({:.1f} MB) in {:.2f} s: {:.0f} records/s, {:.1f} MB/s, {} errors\n",
             s.name, s.records, static_cast<double>(s.bytes) / 1e6, s.seconds, rps, mbps, s.errors);
  if (s.latency) {
    fmt::print("  latency ms: mean {:.2f}, p50 {:.2f}, p99 {:.2f}, p99.9 {:.2f}, max {:.2f}\n",
               s.latency->mean() / 1e3, s.latency->percentile(50) / 1e3,
               s.latency->percentile(99) / 1e3, s.latency->percentile(99.9) / 1e3,
               s.latency->max() / 1e3);
  }
}

// Prints a line a second while `running`, from counters the workers bump.
class Progress {
 public:
  Progress(std::string label, const std::atomic<int64_t>& records, const std::atomic<int64_t>& bytes, bool quiet)
      : label_(std::move(label)), records_(records), bytes_(bytes) {
    if (!quiet) thread_ = std::thread([this] { run(); });
  }
  ~Progress() {
    running_ = false;
    if (thread_.joinable()) thread_.join();
  }

 private:
  void run() {
    int64_t last_records = 0, last_bytes = 0;
    while (running_) {
      for (int i = 0; i < 10 && running_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      int64_t r = records_.load(), b = bytes_.load();
      fmt::print(stderr, "{}: {} records, {:.0f} records/s, {:.1f} MB/s\n", label_, r,
                 static_cast<double>(r - last_records), static_cast<double>(b - last_bytes) / 1e6);
      last_records = r;
      last_bytes = b;
    }
  }

  std::string label_;
  const std::atomic<int64_t>& records_;
  const std::atomic<int64_t>& bytes_;
  std::atomic<bool> running_{true};
  std::thread thread_;
};

// The topic's partition count, once it exists (created with --partitions if missing).
Result<int32_t> ensure_topic(const BenchOptions& o) {
  auto admin = Admin::connect(o.brokers.client_options());
  if (!admin.ok()) return admin.status();
  if (auto topic = (*admin)->describe_topic(o.topic); topic.ok()) {
    return static_cast<int32_t>(topic->partitions.size());
  }
  Status created = (*admin)->create_topic(o.topic, o.partitions);
  if (!created.ok() && created.code() != ErrorCode::topic_already_exists) return created;
  auto topic = (*admin)->describe_topic(o.topic);
  if (!topic.ok()) return topic.status();
  return static_cast<int32_t>(topic->partitions.size());
}

Result<ProducerOptions> producer_options(const BenchOptions& o) {
  ProducerOptions options;
  options.client = o.brokers.client_options();
  options.acks = parse_acks(o.acks);
  options.batch_bytes = o.batch_bytes;
  options.linger_ms = o.linger_ms;
  options.sticky_partition_ms = o.sticky_partition_ms;
  options.enable_idempotence = !o.no_idempotence;
  auto codec = parse_compression(o.compression);
  if (!codec.ok()) return codec.status();
  options.compression = *codec;
  return options;
}

Result<std::unique_ptr<Consumer>> bench_consumer(const BenchOptions& o, OffsetReset reset,
                                                 const std::vector<TopicPartition>& partitions) {
  ConsumerOptions options;
  options.client = o.brokers.client_options();
  options.auto_offset_reset = reset;
  options.fetch_max_wait_ms = 100;
  auto consumer = Consumer::create(options);
  if (!consumer.ok()) return consumer.status();
  CAIRN_RETURN_IF_ERROR((*consumer)->assign(partitions));
  return consumer;
}

std::string payload(int32_t size) {
  std::mt19937 rng(7);
  std::string value(static_cast<size_t>(size), '\0');
  for (auto& c : value) c = static_cast<char>('A' + rng() % 58);
  return value;
}

int bench_produce(const BenchOptions& o) {
  auto topic = ensure_topic(o);
  if (!topic.ok()) return fail(topic.status());
  auto options = producer_options(o);
  if (!options.ok()) return fail(options.status());
  std::string value = payload(o.record_size);
  std::atomic<int64_t> acked{0}, bytes{0}, errors{0};
  LatencyHistogram latency;
  auto start = SteadyClock::now();
  {
    Progress progress("produce", acked, bytes, o.json);
    std::vector<std::thread> threads;
    for (int32_t t = 0; t < o.producers; ++t) {
      threads.emplace_back([&, t] {
        auto producer = Producer::create(*options);
        if (!producer.ok()) {
          errors += o.records;
          return;
        }
        int64_t mine = o.records / o.producers + (t < o.records % o.producers ? 1 : 0);
        for (int64_t i = 0; i < mine; ++i) {
          auto sent_at = SteadyClock::now();
          ProducerRecord record{.topic = o.topic, .value = value};
          (*producer)->send(std::move(record), [&, sent_at](const Result<RecordMetadata>& r) {
            if (!r.ok()) {
              if (errors++ == 0) fmt::print(stderr, "first error: {}\n", r.status().to_string());
              return;
            }
            latency.record(micros_since(sent_at));
            ++acked;
            bytes += o.record_size;
          });
        }
        (*producer)->close();
      });
    }
    for (auto& t : threads) t.join();
  }
  double seconds = static_cast<double>(micros_since(start)) / 1e6;
  print_summary({"produce", acked.load(), bytes.load(), seconds, &latency, errors.load()}, o.json);
  return errors == 0 ? 0 : 1;
}

int bench_consume(const BenchOptions& o) {
  auto admin = Admin::connect(o.brokers.client_options());
  if (!admin.ok()) return fail(admin.status());
  auto topic = (*admin)->describe_topic(o.topic);
  if (!topic.ok()) return fail(topic.status());
  std::vector<TopicPartition> partitions;
  for (const auto& p : topic->partitions) partitions.push_back({o.topic, p.partition});
  auto consumer = bench_consumer(o, OffsetReset::earliest, partitions);
  if (!consumer.ok()) return fail(consumer.status());
  std::atomic<int64_t> records{0}, bytes{0};
  auto start = SteadyClock::now();
  auto last_data = start;
  {
    Progress progress("consume", records, bytes, o.json);
    while (records < o.records) {
      auto got = (*consumer)->poll(std::chrono::milliseconds(500));
      if (!got.ok()) return fail(got.status());
      if (got->empty()) {
        if (SteadyClock::now() - last_data > std::chrono::seconds(5)) {
          fmt::print(stderr, "no records for 5 s: the topic holds fewer than --records\n");
          break;
        }
        continue;
      }
      last_data = SteadyClock::now();
      int64_t b = 0;
      for (const auto& r : *got) b += r.record.value ? static_cast<int64_t>(r.record.value->size()) : 0;
      bytes += b;
      records += static_cast<int64_t>(got->size());
    }
  }
  double seconds = std::chrono::duration<double>(last_data - start).count();
  print_summary({"consume", records.load(), bytes.load(), seconds, nullptr, 0}, o.json);
  return 0;
}

// Share-group workers (threads, each its own ShareConsumer) take the topic's
// records from the start and accept each: the queue's throughput with
// per-record acknowledgement, to compare with `bench consume` on the same data.
int bench_queue(const BenchOptions& o) {
  ShareConsumerOptions options;
  options.client = o.brokers.client_options();
  options.group_id = o.group.empty() ? fmt::format("bench-queue-{}", std::random_device{}()) : o.group;
  options.acknowledgement_mode = AcknowledgementMode::implicit;
  std::atomic<int64_t> records{0}, bytes{0}, errors{0};
  std::atomic<int64_t> last_data_us{0};
  auto start = SteadyClock::now();
  {
    Progress progress("queue", records, bytes, o.json);
    std::vector<std::thread> threads;
    for (int32_t w = 0; w < o.workers; ++w) {
      threads.emplace_back([&] {
        auto consumer = ShareConsumer::create(options);
        if (!consumer.ok() || !(*consumer)->subscribe({o.topic}).ok()) {
          if (errors++ == 0) fmt::print(stderr, "could not start a worker\n");
          return;
        }
        while (records < o.records) {
          auto got = (*consumer)->poll(std::chrono::milliseconds(200));
          if (!got.ok()) {
            if (errors++ == 0) fmt::print(stderr, "first error: {}\n", got.status().to_string());
            return;
          }
          if (got->empty()) {
            if (micros_since(start) - last_data_us.load() > 5'000'000) return;
            continue;
          }
          int64_t b = 0;
          for (const auto& r : *got) b += r.value() ? static_cast<int64_t>(r.value()->size()) : 0;
          bytes += b;
          records += static_cast<int64_t>(got->size());
          last_data_us = micros_since(start);
        }
        Status committed = (*consumer)->commit();  // the last poll's records, accepted
        if (!committed.ok() && errors++ == 0) fmt::print(stderr, "first error: {}\n", committed.to_string());
        (*consumer)->close();
      });
    }
    for (auto& t : threads) t.join();
  }
  if (records < o.records) fmt::print(stderr, "no records for 5 s: the topic holds fewer than --records\n");
  double seconds = static_cast<double>(last_data_us.load()) / 1e6;
  print_summary({fmt::format("queue ({} workers)", o.workers), records.load(), bytes.load(), seconds, nullptr,
                 errors.load()},
                o.json);
  return errors == 0 ? 0 : 1;
}

// Produces at a fixed rate and consumes at once; a record's value starts with
// its send time, so the consumer measures end-to-end latency.
int bench_e2e(const BenchOptions& o) {
  auto topic = ensure_topic(o);
  if (!topic.ok()) return fail(topic.status());
  auto options = producer_options(o);
  if (!options.ok()) return fail(options.status());
  auto producer = Producer::create(*options);
  if (!producer.ok()) return fail(producer.status());
  std::vector<TopicPartition> partitions;
  // Every partition: the producer spreads records over all of them.
  for (int32_t p = 0; p < *topic; ++p) partitions.push_back({o.topic, p});
  auto consumer = bench_consumer(o, OffsetReset::latest, partitions);
  if (!consumer.ok()) return fail(consumer.status());
  Status at_end = (*consumer)->seek_to_end(partitions);
  if (!at_end.ok()) return fail(at_end);

  auto origin = SteadyClock::now();
  std::atomic<int64_t> received{0}, bytes{0};
  LatencyHistogram latency;       // send to poll
  LatencyHistogram acknowledged;  // send to the producer's acknowledgement
  std::thread reader([&] {
    auto last = SteadyClock::now();
    while (received < o.records && SteadyClock::now() - last < std::chrono::seconds(10)) {
      auto got = (*consumer)->poll(std::chrono::milliseconds(200));
      if (!got.ok()) break;
      int64_t now_us = micros_since(origin);
      for (const auto& r : *got) {
        if (!r.record.value || r.record.value->size() < 8) continue;
        int64_t sent_us = load_be<int64_t>(reinterpret_cast<const std::byte*>(r.record.value->data()));
        if (sent_us < 0) continue;  // a warm-up record
        latency.record(now_us - sent_us);
        bytes += static_cast<int64_t>(r.record.value->size());
        ++received;
      }
      if (!got->empty()) last = SteadyClock::now();
    }
  });
  std::string value = payload(std::max(o.record_size, 8));
  double interval_us = static_cast<double>(o.record_size) / (o.rate_mb * 1e6) * 1e6;
  // The first records also wait for connections, metadata and a producer
  // id: a warm-up at the same rate, not measured, comes first. Its records
  // carry a negative send time, which the reader skips.
  auto warmup = static_cast<int64_t>(o.warmup_seconds * 1e6 / interval_us);
  {
    Progress progress("e2e", received, bytes, o.json);
    for (int64_t i = 0; i < warmup + o.records; ++i) {
      auto due = origin + std::chrono::microseconds(static_cast<int64_t>(static_cast<double>(i) * interval_us));
      std::this_thread::sleep_until(due);
      bool measured = i >= warmup;
      int64_t sent_us = micros_since(origin);
      store_be<int64_t>(reinterpret_cast<std::byte*>(value.data()), measured ? sent_us : -1);
      (*producer)->send({.topic = o.topic, .value = value},
                        [&acknowledged, origin, sent_us, measured](const Result<RecordMetadata>& sent) {
                          if (sent.ok() && measured) acknowledged.record(micros_since(origin) - sent_us);
                        });
    }
    (*producer)->flush();
    reader.join();
  }
  // Rates over the measured records only.
  double seconds = (static_cast<double>(micros_since(origin)) - static_cast<double>(warmup) * interval_us) / 1e6;
  print_summary({"e2e", received.load(), bytes.load(), seconds, &latency, o.records - received.load()}, o.json);
  print_summary({"e2e-acknowledged", acknowledged.count(), bytes.load(), seconds, &acknowledged,
                 o.records - acknowledged.count()},
                o.json);
  return received == o.records ? 0 : 1;
}

void add_common(CLI::App& cmd, BenchOptions& o, bool producing) {
  o.brokers.add_to(cmd);
  cmd.add_option("--topic", o.topic, producing ? "topic (created with --partitions if missing)" : "topic to read")
      ->capture_default_str();
  cmd.add_option("--records", o.records, producing ? "records to send" : "records to read")->capture_default_str()->check(CLI::PositiveNumber);
  cmd.add_flag("--json", o.json, "print only the summary, as JSON (one object per line; e2e prints two)");
  if (!producing) return;
  cmd.add_option("--partitions", o.partitions, "partitions when creating the topic")->capture_default_str();
  cmd.add_option("--record-size", o.record_size, "bytes of each record's value")->capture_default_str()->check(CLI::PositiveNumber);
  cmd.add_option("--acks", o.acks, "0, 1 or all")->capture_default_str()->check(CLI::IsMember({"0", "1", "all"}));
  cmd.add_option("--batch-bytes", o.batch_bytes, "producer batch size")->capture_default_str();
  cmd.add_option("--linger-ms", o.linger_ms, "producer linger")->capture_default_str();
  cmd.add_option("--sticky-partition-ms", o.sticky_partition_ms,
                 "keyless records stay on a partition at least this long (and for a batch's bytes)")
      ->capture_default_str();
  cmd.add_option("--compression", o.compression, "none, lz4 or zstd")->capture_default_str();
  cmd.add_flag("--no-idempotence", o.no_idempotence,
               "send without producer ids and sequence numbers (as a producer with idempotence off)");
}

}  // namespace

void add_bench_commands(CLI::App& app, int& exit_code) {
  auto* bench = app.add_subcommand("bench", "Measure throughput and latency against running brokers");
  bench->require_subcommand(1);
  auto o = std::make_shared<BenchOptions>();

  auto* produce = bench->add_subcommand(
      "produce", "Send records as fast as the producer can; report records/s, MB/s and ack latency\n"
                 "Example: cairn bench produce --topic bench --records 5000000 --record-size 100 --acks 1");
  add_common(*produce, *o, true);
  produce->add_option("--producers", o->producers, "producer instances (threads) in this process")->capture_default_str();
  produce->callback([o, &exit_code] { exit_code = bench_produce(*o); });

  auto* consume = bench->add_subcommand("consume", "Read records from the beginning of every partition; report records/s and MB/s\n"
                 "Example: cairn bench consume --topic bench --records 5000000");
  add_common(*consume, *o, false);
  consume->callback([o, &exit_code] { exit_code = bench_consume(*o); });

  auto q = std::make_shared<BenchOptions>();
  auto* queue = bench->add_subcommand(
      "queue", "Share-group workers take the topic's records from the start and accept each one; report records/s "
               "(produce them first with `bench produce`)\n"
               "Example: cairn bench queue --topic bench --records 1000000 --workers 4");
  add_common(*queue, *q, false);
  queue->add_option("--workers", q->workers, "worker threads, each a ShareConsumer")->capture_default_str()
      ->check(CLI::Range(1, 256));
  queue->add_option("--group", q->group, "share group (default: a new one each run, starting at the earliest record)");
  queue->callback([q, &exit_code] { exit_code = bench_queue(*q); });

  // Latency at a fixed rate: batches leave at once (linger 0) unless told.
  auto e = std::make_shared<BenchOptions>();
  e->linger_ms = 0;
  auto* e2e = bench->add_subcommand(
      "e2e", "Produce at a fixed rate while consuming; report end-to-end latency (send to poll)\n"
             "Example: cairn bench e2e --records 200000 --record-size 1000 --rate-mb 20 --acks all");
  add_common(*e2e, *e, true);
  e2e->add_option("--rate-mb", e->rate_mb, "MB/s to produce")->capture_default_str();
  e2e->add_option("--warmup-seconds", e->warmup_seconds,
                  "produce at the rate this long first, unmeasured (connections, metadata, producer id)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  e2e->callback([e, &exit_code] { exit_code = bench_e2e(*e); });
}

}  // namespace cairn::tools
