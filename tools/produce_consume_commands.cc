#include "tools/produce_consume_commands.h"

#include <atomic>
#include <charconv>
#include <chrono>
#include <iostream>
#include <mutex>
#include <set>

#include <fmt/format.h>

#include "cairn/admin.h"
#include "cairn/consumer.h"
#include "cairn/producer.h"
#include "tools/cli_common.h"

namespace cairn::tools {
namespace {

struct ProduceOptions {
  BrokerFlag brokers;
  std::string topic;
  std::string acks = "all";
  int32_t partition = -1;
  std::string key_separator;
};

int produce(const ProduceOptions& o) {
  ProducerOptions options;
  options.client = o.brokers.client_options();
  options.acks = parse_acks(o.acks);
  auto producer = Producer::create(options);
  if (!producer.ok()) return fail(producer.status());

  std::mutex mutex;
  std::optional<std::string> first_error;
  std::atomic<int64_t> acknowledged{0};
  std::string line;
  int64_t line_number = 0;
  while (std::getline(std::cin, line)) {
    ++line_number;
    ProducerRecord record;
    record.topic = o.topic;
    if (o.partition >= 0) record.partition = o.partition;
    if (!o.key_separator.empty()) {
      auto at = line.find(o.key_separator);
      if (at != std::string::npos) {
        record.key = line.substr(0, at);
        line = line.substr(at + o.key_separator.size());
      }
    }
    record.value = std::move(line);
    (*producer)->send(std::move(record), [&, line_number](const Result<RecordMetadata>& r) {
      if (r.ok()) {
        ++acknowledged;
        return;
      }
      std::lock_guard lock(mutex);
      if (!first_error) {
        first_error = fmt::format("record on line {} was rejected: {}", line_number,
                                  r.status().to_string());
      }
    });
    std::lock_guard lock(mutex);
    if (first_error) break;
  }
  (*producer)->close();
  if (first_error) {
    fmt::print(stderr, "error: {}\n", *first_error);
    return 1;
  }
  fmt::print(stderr, "produced {} record(s) to {}\n", acknowledged.load(), o.topic);
  return 0;
}

struct ConsumeOptions {
  BrokerFlag brokers;
  std::string topic;
  int32_t partition = -1;
  std::string from = "end";
  int64_t max_messages = -1;
  int64_t timeout_ms = -1;
  bool print_key = false;
  bool print_offset = false;
  std::string group;
  int32_t session_timeout_ms = 10'000;
};

Status seek_from(Consumer& consumer, const std::vector<TopicPartition>& partitions,
                 const std::string& from) {
  if (from == "beginning") return consumer.seek_to_beginning(partitions);
  if (from == "end") return consumer.seek_to_end(partitions);
  bool by_time = from.starts_with("@");
  std::string_view number = by_time ? std::string_view(from).substr(1) : std::string_view(from);
  int64_t value = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc() || end != number.data() + number.size() || value < 0) {
    return error(ErrorCode::invalid_request,
                 "--from takes beginning, end, an offset or @UNIX_MS, not '{}'", from);
  }
  if (by_time) return consumer.seek_to_time(partitions, value);
  for (const auto& tp : partitions) CAIRN_RETURN_IF_ERROR(consumer.seek(tp, Offset(value)));
  return {};
}

// Prints records as they come until --max-messages or --timeout-ms.
int print_records(Consumer& consumer, const ConsumeOptions& o) {
  int64_t printed = 0;
  auto last_record = std::chrono::steady_clock::now();
  while (o.max_messages < 0 || printed < o.max_messages) {
    auto records = consumer.poll(std::chrono::milliseconds(200));
    if (!records.ok()) return fail(records.status());
    std::set<TopicPartition> rewound;
    for (const auto& r : *records) {
      if (printed == o.max_messages) {
        // Not printed: move the position back to the first such record of
        // its partition, so a group does not commit past it.
        if (rewound.insert({r.topic, r.partition}).second) {
          Status back = consumer.seek({r.topic, r.partition}, r.record.offset);
          if (!back.ok()) return fail(back);
        }
        continue;
      }
      std::string line;
      if (o.print_offset) line += fmt::format("{}:{}\t", r.partition, r.record.offset);
      if (o.print_key) line += (r.record.key ? *r.record.key : "null") + "\t";
      line += r.record.value ? *r.record.value : "null";
      line += '\n';
      std::fwrite(line.data(), 1, line.size(), stdout);
      ++printed;
    }
    if (!records->empty()) {
      std::fflush(stdout);
      last_record = std::chrono::steady_clock::now();
    } else if (o.timeout_ms >= 0 &&
               std::chrono::steady_clock::now() - last_record >= std::chrono::milliseconds(o.timeout_ms)) {
      break;
    }
  }
  std::fflush(stdout);
  return 0;
}

// Options of both kinds of consume: a position outside the log moves per
// `reset`, with a warning on stderr.
ConsumerOptions consumer_options(const ConsumeOptions& o, OffsetReset reset) {
  ConsumerOptions options;
  options.client = o.brokers.client_options();
  options.fetch_max_wait_ms = 200;
  options.auto_offset_reset = reset;
  options.on_offset_reset = [](const TopicPartition& tp, Offset out_of_range, Offset reset_to) {
    fmt::print(stderr, "warning: {}: offset {} is out of range; continuing at offset {}\n", tp,
               out_of_range, reset_to);
  };
  return options;
}

// As a member of a group: partitions come from the coordinator, positions
// from the group's commits; commits as it goes and when it stops.
int consume_in_group(const ConsumeOptions& o) {
  ConsumerOptions options =
      consumer_options(o, o.from == "beginning" ? OffsetReset::earliest : OffsetReset::latest);
  options.group_id = o.group;
  options.auto_commit_interval_ms = 1000;
  options.session_timeout_ms = o.session_timeout_ms;
  auto consumer = Consumer::create(options);
  if (!consumer.ok()) return fail(consumer.status());
  Status subscribed = (*consumer)->subscribe({o.topic});
  if (!subscribed.ok()) return fail(subscribed);
  int rc = print_records(**consumer, o);
  (*consumer)->close();  // commits what was printed, leaves the group
  return rc;
}

int consume(const ConsumeOptions& o) {
  if (!o.group.empty()) return consume_in_group(o);
  auto admin = Admin::connect(o.brokers.client_options());
  if (!admin.ok()) return fail(admin.status());
  auto topic = (*admin)->describe_topic(o.topic);
  if (!topic.ok()) return fail(topic.status());
  std::vector<TopicPartition> partitions;
  for (const auto& p : topic->partitions) {
    if (o.partition < 0 || p.partition == o.partition) partitions.push_back({o.topic, p.partition});
  }
  if (partitions.empty()) {
    return fail(error(ErrorCode::unknown_topic_or_partition, "topic {} has no partition {}", o.topic,
                      o.partition));
  }
  // A position retention deleted restarts at the log start: the records that remain.
  auto consumer = Consumer::create(consumer_options(o, OffsetReset::earliest));
  if (!consumer.ok()) return fail(consumer.status());
  Status assigned = (*consumer)->assign(partitions);
  if (!assigned.ok()) return fail(assigned);
  Status sought = seek_from(**consumer, partitions, o.from);
  if (!sought.ok()) return fail(sought);

  return print_records(**consumer, o);
}

}  // namespace

void add_produce_consume_commands(CLI::App& app, int& exit_code) {
  auto p = std::make_shared<ProduceOptions>();
  auto* produce_cmd = app.add_subcommand(
      "produce",
      "Send each line of standard input as one record. A broker that restarts meanwhile is waited for "
      "(retrying for up to 120 s per record); the first record that fails ends it, with its line number\n"
      "Example: printf 'user1:hello\\nuser2:world\\n' | cairn produce greetings --key-separator :");
  produce_cmd->add_option("TOPIC", p->topic, "topic to write to")->required();
  produce_cmd->add_option("--acks", p->acks, "all: wait until durable (default); 1: until the leader appended; 0: do not wait")
      ->check(CLI::IsMember({"0", "1", "all"}));
  produce_cmd->add_option("--partition", p->partition, "write every record to this partition (default: by key, or spread)");
  produce_cmd->add_option("--key-separator", p->key_separator, "split each line at the first SEP into key and value");
  p->brokers.add_to(*produce_cmd);
  produce_cmd->callback([p, &exit_code] { exit_code = produce(*p); });

  auto c = std::make_shared<ConsumeOptions>();
  auto* consume_cmd = app.add_subcommand(
      "consume",
      "Print records of a topic, one value per line, in offset order per partition\n"
      "Example: cairn consume orders --from beginning --max-messages 10 --print-offset");
  consume_cmd->add_option("TOPIC", c->topic, "topic to read")->required();
  consume_cmd->add_option("--partition", c->partition, "read only this partition (default: all)");
  consume_cmd->add_option("--from", c->from,
                          "where to start: beginning, end (default), an OFFSET, or @UNIX_MS (first record at or "
                          "after that time). A position outside the log (deleted by retention, or past its end) "
                          "moves to the log start (with --group: to the start with --from beginning, else to the "
                          "end), with a warning on stderr naming the old and new offsets");
  consume_cmd->add_option("--max-messages", c->max_messages, "stop after N records");
  consume_cmd->add_option("--timeout-ms", c->timeout_ms, "stop after MS milliseconds without a new record");
  consume_cmd->add_flag("--print-key", c->print_key, "print KEY<tab> before each value");
  consume_cmd->add_flag("--print-offset", c->print_offset, "print PARTITION:OFFSET<tab> before each value");
  consume_cmd->add_option("--group", c->group,
                          "consume as a member of this group: partitions shared with its other members, "
                          "starting at its committed offsets (else --from beginning|end), committing as it goes");
  consume_cmd->add_option("--session-timeout-ms", c->session_timeout_ms,
                          "with --group: how long the group waits for this consumer before moving its partitions")
      ->capture_default_str();
  c->brokers.add_to(*consume_cmd);
  consume_cmd->callback([c, &exit_code] { exit_code = consume(*c); });
}

}  // namespace cairn::tools
