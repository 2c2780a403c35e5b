#include "tools/produce_consume_commands.h"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <fstream>
#include <chrono>
#include <iostream>
#include <mutex>
#include <set>

#include <fmt/format.h>

#include "cairn/admin.h"
#include "cairn/consumer.h"
#include "cairn/producer.h"
#include "proto/strong_int.h"
#include "proto/topic_partition.h"
#include "tools/cli_common.h"
#include "tools/json.h"
#include "tools/position.h"
#include "tools/record_format.h"

namespace cairn::tools {
namespace {

struct ProduceOptions {
  BrokerFlag brokers;
  std::string topic;
  std::string acks = "all";
  int32_t partition = -1;
  std::string key_separator;
  bool allow_missing_key = false;
  std::vector<std::string> headers;
  std::string file;
};

// The header arguments (KEY=VALUE, or KEY alone for a null value), in order.
Result<std::vector<RecordHeader>> parse_headers(const std::vector<std::string>& args) {
  std::vector<RecordHeader> out;
  for (const auto& arg : args) {
    auto eq = arg.find('=');
    if (eq == 0 || arg.empty()) {
      return error(ErrorCode::invalid_request, "--header '{}' has no key: give KEY=VALUE", arg);
    }
    if (eq == std::string::npos) {
      out.push_back({arg, std::nullopt});
    } else {
      out.push_back({arg.substr(0, eq), arg.substr(eq + 1)});
    }
  }
  return out;
}

int produce(const ProduceOptions& o) {
  auto headers = parse_headers(o.headers);
  if (!headers.ok()) return fail(headers.status());
  std::ifstream file;
  if (!o.file.empty()) {
    file.open(o.file);
    if (!file) {
      return fail(error(ErrorCode::invalid_request, "--file {}: {}", o.file, std::strerror(errno)));
    }
  }
  std::istream& input = o.file.empty() ? std::cin : file;
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
  while (std::getline(input, line)) {
    ++line_number;
    ProducerRecord record;
    record.topic = o.topic;
    record.headers = *headers;
    if (o.partition >= 0) record.partition = o.partition;
    if (!o.key_separator.empty()) {
      auto at = line.find(o.key_separator);
      if (at != std::string::npos) {
        record.key = line.substr(0, at);
        line = line.substr(at + o.key_separator.size());
      } else if (!o.allow_missing_key) {
        std::lock_guard lock(mutex);
        first_error = fmt::format("line {} has no key separator '{}' (pass --allow-missing-key to send "
                                  "such lines with a null key)",
                                  line_number, o.key_separator);
        break;
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
  std::string from;  // empty: latest, and not given
  int64_t max_messages = -1;
  int64_t timeout_ms = -1;
  RecordFormat print;
  std::string group;
  int32_t session_timeout_ms = 10'000;
};

Status seek_from(Consumer& consumer, const std::vector<TopicPartition>& partitions, const Position& from) {
  switch (from.kind) {
    case Position::Kind::earliest: return consumer.seek_to_beginning(partitions);
    case Position::Kind::latest: return consumer.seek_to_end(partitions);
    case Position::Kind::time: return consumer.seek_to_time(partitions, from.value);
    case Position::Kind::offset:
      for (const auto& tp : partitions) CAIRN_RETURN_IF_ERROR(consumer.seek(tp, Offset(from.value)));
      return {};
  }
  return {};
}

// Prints records as they come until --max-messages or --timeout-ms.
int print_records(Consumer& consumer, const ConsumeOptions& o) {
  int64_t printed = 0;
  auto last_record = std::chrono::steady_clock::now();
  while ((o.max_messages < 0 || printed < o.max_messages) && !stop_requested()) {
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
      std::string line = o.print.line(r.topic, r.partition, r.record);
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

// A --from is only where a group has no committed offset: say so when it has some.
void warn_if_group_resumes(const ConsumeOptions& o) {
  auto admin = Admin::connect(o.brokers.client_options());
  if (!admin.ok()) return;  // the consume itself reports an unreachable cluster
  auto group = (*admin)->describe_group(o.group);
  if (!group.ok()) return;
  int32_t resumed = 0;
  for (const auto& p : group->partitions) resumed += p.tp.topic == o.topic && p.committed ? 1 : 0;
  if (resumed == 0) return;
  fmt::print(stderr,
             "warning: group {} has committed offsets on {} partition(s) of {}: it resumes there, and "
             "--from {} applies only to partitions without one (`cairn group reset-offsets` moves them)\n",
             o.group, resumed, o.topic, o.from);
}

// As a member of a group: partitions come from the coordinator, positions
// from the group's commits; commits as it goes and when it stops.
int consume_in_group(const ConsumeOptions& o, const Position& from) {
  if (from.kind != Position::Kind::earliest && from.kind != Position::Kind::latest) {
    return fail(error(ErrorCode::invalid_request,
                      "with --group, --from takes earliest or latest (where the group has no committed "
                      "offset); to move the group's offsets, run `cairn group reset-offsets {} --topic {} "
                      "--to {}` while it has no members",
                      o.group, o.topic, o.from));
  }
  if (!o.from.empty()) warn_if_group_resumes(o);
  ConsumerOptions options =
      consumer_options(o, from.kind == Position::Kind::earliest ? OffsetReset::earliest : OffsetReset::latest);
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
  auto from = parse_position(o.from.empty() ? "latest" : o.from, "--from");
  if (!from.ok()) return fail(from.status());
  stop_on_signals();
  if (!o.group.empty()) return consume_in_group(o, *from);
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
  Status sought = seek_from(**consumer, partitions, *from);
  if (!sought.ok()) return fail(sought);

  return print_records(**consumer, o);
}

}  // namespace

void add_produce_consume_commands(CLI::App& app, int& exit_code) {
  auto p = std::make_shared<ProduceOptions>();
  auto* produce_cmd = app.add_subcommand(
      "produce",
      "Send each line of standard input as one record. A broker that restarts meanwhile is waited for "
      "(retrying for up to 120 s per record; with --acks all or 1 never writing a record twice); the first record that fails ends it, with its line number\n"
      "Example: printf 'user1:hello\\nuser2:world\\n' | cairn produce greetings --key-separator : --header source=cli");
  produce_cmd->add_option("TOPIC", p->topic, "topic to write to")->required();
  produce_cmd->add_option("--acks", p->acks, "all: wait until durable (default); 1: until the leader appended; 0: do not wait")
      ->check(CLI::IsMember({"0", "1", "all"}));
  produce_cmd->add_option("--partition", p->partition, "write every record to this partition (default: by key, or spread)");
  produce_cmd->add_option("--key-separator", p->key_separator,
                          "split each line at the first SEP into key and value; a line without SEP is an error");
  produce_cmd->add_flag("--allow-missing-key", p->allow_missing_key,
                        "with --key-separator: send a line without SEP whole, as the value, with a null key");
  produce_cmd->add_option("--header", p->headers, "KEY=VALUE header on every record (repeatable; KEY alone: null value)");
  produce_cmd->add_option("--file", p->file, "read the records from this file, one per line, instead of standard input")
      ->check(CLI::ExistingFile);
  p->brokers.add_to(*produce_cmd);
  produce_cmd->callback([p, &exit_code] { exit_code = produce(*p); });

  auto c = std::make_shared<ConsumeOptions>();
  auto* consume_cmd = app.add_subcommand(
      "consume",
      "Print records of a topic, one value per line, in offset order per partition\n"
      "Example: cairn consume orders --from 2026-11-29T06:00:00Z --max-messages 10 --print-offset");
  consume_cmd->add_option("TOPIC", c->topic, "topic to read")->required();
  consume_cmd->add_option("--partition", c->partition, "read only this partition (default: all)");
  consume_cmd->add_option("--from", c->from,
                          std::string("where to start: ") + kPositionHelp +
                              ". Default latest. A position outside the log (deleted by retention, or past its "
                              "end) moves to the log start, with a warning on stderr naming the old and new "
                              "offsets. With --group: earliest or latest, used only where the group has no "
                              "committed offset (a warning says when it has)");
  consume_cmd->add_option("--max-messages", c->max_messages, "stop after N records");
  consume_cmd->add_option("--timeout-ms", c->timeout_ms, "stop after MS milliseconds without a new record");
  c->print.add_to(*consume_cmd);
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
