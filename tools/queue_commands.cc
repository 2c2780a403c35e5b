#include "tools/queue_commands.h"

#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cairn/admin.h"
#include "cairn/consumer.h"
#include "cairn/dead_letter.h"
#include "cairn/producer.h"
#include "cairn/share_consumer.h"
#include "tools/cli_common.h"
#include "tools/json.h"
#include "tools/position.h"
#include "tools/record_format.h"

namespace cairn::tools {
namespace {

// ---- cairn queue ----------------------------------------------------------

struct QueueOptions {
  BrokerFlag brokers;
  std::string topic;
  std::string group;
  std::string ack = "accept";
  std::string reason;
  int64_t max_messages = -1;
  int64_t timeout_ms = -1;
  bool print_delivery_count = false;
  RecordFormat print;
  std::string to;
  std::string format = "text";
};

void apply_ack(ShareConsumer& consumer, const ShareRecord& r, const QueueOptions& o) {
  if (o.ack == "release") {
    consumer.release(r, o.reason.empty() ? "released by cairn queue consume" : o.reason);
  } else if (o.ack == "reject") {
    consumer.reject(r, o.reason.empty() ? "rejected by cairn queue consume" : o.reason);
  } else {
    consumer.accept(r);
  }
}

// Takes records one poll at a time, never more than it still has to print,
// acknowledges each as --ack says once printed, and commits after each
// poll. On Ctrl-C, records taken and not printed go back uncounted.
int queue_consume(const QueueOptions& o) {
  stop_on_signals();
  ShareConsumerOptions options;
  options.client = o.brokers.client_options();
  options.group_id = o.group;
  options.acknowledgement_mode = AcknowledgementMode::explicit_;
  auto consumer = ShareConsumer::create(options);
  if (!consumer.ok()) return fail(consumer.status());
  Status subscribed = (*consumer)->subscribe({o.topic});
  if (!subscribed.ok()) return fail(subscribed);
  int64_t printed = 0;
  auto last_record = std::chrono::steady_clock::now();
  int rc = 0;
  while ((o.max_messages < 0 || printed < o.max_messages) && !stop_requested()) {
    size_t want = o.max_messages < 0 ? 500 : static_cast<size_t>(o.max_messages - printed);
    auto records = (*consumer)->poll(std::chrono::milliseconds(200), want);
    if (!records.ok()) {
      rc = fail(records.status());
      break;
    }
    for (const auto& r : *records) {
      if (stop_requested() || (o.max_messages >= 0 && printed >= o.max_messages)) {
        (*consumer)->give_back(r);
        continue;
      }
      std::string line = o.print.line(r.topic, r.partition, r.record);
      if (o.print_delivery_count && o.print.format != "json") line = fmt::format("{}\t{}", r.delivery_count, line);
      std::fwrite(line.data(), 1, line.size(), stdout);
      apply_ack(**consumer, r, o);
      ++printed;
    }
    if (!records->empty()) {
      std::fflush(stdout);
      last_record = std::chrono::steady_clock::now();
      Status committed = (*consumer)->commit();
      if (!committed.ok()) fmt::print(stderr, "warning: acknowledging: {}\n", committed.to_string());
    } else if (o.timeout_ms >= 0 &&
               std::chrono::steady_clock::now() - last_record >= std::chrono::milliseconds(o.timeout_ms)) {
      break;
    }
  }
  std::fflush(stdout);
  (*consumer)->close();
  return rc;
}

std::string describe_json(const ShareGroupDescription& g) {
  std::vector<std::string> members, partitions;
  for (const auto& m : g.members) {
    members.push_back(fmt::format(R"({{"member_id":{},"topic":{},"last_seen_ms":{},"acquired":{}}})",
                                  json_string(m.member_id), json_string(m.topic), m.last_seen_ms, m.acquired));
  }
  for (const auto& p : g.partitions) {
    partitions.push_back(fmt::format(
        R"({{"topic":{},"partition":{},"start_offset":{},"next_offset":{},"high_watermark":{},"acquired":{},)"
        R"("awaiting_redelivery":{},"dead_lettering":{},"max_delivery_count":{},"lag":{}}})",
        json_string(p.tp.topic), p.tp.partition, p.start_offset.value, p.next_offset.value, p.high_watermark.value,
        p.acquired, p.awaiting_redelivery, p.dead_lettering, p.max_delivery_count, p.lag));
  }
  return fmt::format(R"({{"group":{},"dead_lettered":{},"members":[{}],"partitions":[{}]}})", json_string(g.group),
                     g.dead_lettered, fmt::join(members, ","), fmt::join(partitions, ","));
}

int queue_describe(const QueueOptions& o) {
  auto admin = Admin::connect(o.brokers.client_options());
  if (!admin.ok()) return fail(admin.status());
  auto g = (*admin)->describe_share_group(o.group);
  if (!g.ok()) return fail(g.status());
  if (o.format == "json") {
    fmt::print("{}\n", describe_json(*g));
    return 0;
  }
  fmt::print("share group {}: {} member(s), {} record(s) dead-lettered since the broker started\n", g->group,
             g->members.size(), g->dead_lettered);
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch()).count();
  for (const auto& m : g->members) {
    fmt::print("  member {} on {}: holds {} record(s), last seen {} ms ago\n", m.member_id, m.topic, m.acquired,
               now - m.last_seen_ms);
  }
  fmt::print("{:<24} {:>9} {:>10} {:>10} {:>10} {:>8} {:>9} {:>8} {:>11} {:>8}\n", "topic", "partition", "start",
             "next", "log-end", "held", "to-retry", "to-dlq", "deliveries", "lag");
  for (const auto& p : g->partitions) {
    fmt::print("{:<24} {:>9} {:>10} {:>10} {:>10} {:>8} {:>9} {:>8} {:>11} {:>8}\n", p.tp.topic, p.tp.partition,
               p.start_offset.value, p.next_offset.value, p.high_watermark.value, p.acquired,
               p.awaiting_redelivery, p.dead_lettering, p.max_delivery_count, p.lag);
  }
  return 0;
}

int queue_list(const QueueOptions& o) {
  auto admin = Admin::connect(o.brokers.client_options());
  if (!admin.ok()) return fail(admin.status());
  auto groups = (*admin)->list_share_groups();
  if (!groups.ok()) return fail(groups.status());
  if (o.format == "json") {
    std::vector<std::string> names;
    for (const auto& g : *groups) names.push_back(json_string(g));
    fmt::print("[{}]\n", fmt::join(names, ","));
    return 0;
  }
  for (const auto& g : *groups) fmt::print("{}\n", g);
  return 0;
}

int queue_reset(const QueueOptions& o) {
  auto to = parse_position(o.to, "--to");
  if (!to.ok()) return fail(to.status());
  OffsetSpec spec = OffsetSpec::earliest();
  switch (to->kind) {
    case Position::Kind::earliest: break;
    case Position::Kind::latest: spec = OffsetSpec::latest(); break;
    case Position::Kind::time: spec = OffsetSpec::at_time(to->value); break;
    case Position::Kind::offset:
      return fail(error(ErrorCode::invalid_request,
                        "--to {}: a share group starts every partition at once, so it takes earliest, latest or a "
                        "time, not an offset",
                        o.to));
  }
  auto admin = Admin::connect(o.brokers.client_options());
  if (!admin.ok()) return fail(admin.status());
  Status reset = (*admin)->reset_share_group(o.group, o.topic, spec);
  if (!reset.ok()) return fail(reset);
  fmt::print("share group {} starts {} on {} again\n", o.group, o.to, o.topic);
  return 0;
}

int queue_delete(const QueueOptions& o) {
  auto admin = Admin::connect(o.brokers.client_options());
  if (!admin.ok()) return fail(admin.status());
  Status removed = (*admin)->delete_share_group(o.group);
  if (!removed.ok()) return fail(removed);
  fmt::print("deleted share group {}\n", o.group);
  return 0;
}

// ---- cairn dlq ------------------------------------------------------------

struct DlqOptions {
  BrokerFlag brokers;
  std::string topic;
  std::string to;
  std::string filter;
  int64_t max = -1;
  bool again = false;
  std::string offset;
  std::string format = "text";
};

constexpr std::string_view kRedrivenHeader = "cairn.dlq.redriven";      // "PARTITION:OFFSET" of the dead letter
constexpr std::string_view kRedrivenToHeader = "cairn.dlq.redriven.to";  // "TOPIC/PARTITION@OFFSET"

// TOPIC as the user gave it: a source topic (its dead.letter.topic config
// names its dead-letter topic), else a dead-letter topic itself.
Result<std::string> dlq_name(const DlqOptions& o) {
  auto admin = Admin::connect(o.brokers.client_options());
  if (!admin.ok()) return admin.status();
  auto topic = (*admin)->describe_topic(o.topic);
  if (topic.ok() && !o.topic.ends_with(dead_letter::kSuffix)) {
    auto configured = topic->configs.find("dead.letter.topic");
    if (configured != topic->configs.end() && !configured->second.empty()) return configured->second;
  }
  if (topic.ok() || o.topic.ends_with(dead_letter::kSuffix)) {
    return o.topic.ends_with(dead_letter::kSuffix) ? o.topic : dead_letter::topic_for(o.topic);
  }
  return topic.status();
}

// The value of header `key`; nullopt when absent (or null).
std::optional<std::string> header(const Record& r, std::string_view key) {
  for (const auto& h : r.headers) {
    if (h.key == key) return h.value;
  }
  return std::nullopt;
}

std::string field(const Record& r, std::string_view key) { return header(r, key).value_or(""); }

struct DeadLetter {
  int32_t partition = 0;
  Record record;
  std::vector<std::string> redriven_to;  // each redrive so far
};

// Every dead letter of `dlq`, in partition and offset order, with the
// redrives recorded after it (marker records in the same topic).
Result<std::vector<DeadLetter>> read_dead_letters(const DlqOptions& o, const std::string& dlq) {
  auto admin = Admin::connect(o.brokers.client_options());
  if (!admin.ok()) return admin.status();
  auto topic = (*admin)->describe_topic(dlq);
  if (!topic.ok()) {
    if (topic.status().code() == ErrorCode::unknown_topic_or_partition) {
      return error(ErrorCode::unknown_topic_or_partition,
                   "{} does not exist: no record was dead-lettered there yet (a share group creates it with "
                   "the first)",
                   dlq);
    }
    return topic.status();
  }
  std::map<int32_t, Offset> ends;
  std::vector<TopicPartition> partitions;
  for (const auto& p : topic->partitions) {
    auto end = (*admin)->list_offset(dlq, p.partition, OffsetSpec::latest());
    if (!end.ok()) return end.status();
    if (end->value > 0) ends[p.partition] = *end;
    partitions.push_back({dlq, p.partition});
  }
  ConsumerOptions options;
  options.client = o.brokers.client_options();
  options.auto_offset_reset = OffsetReset::earliest;
  options.fetch_max_wait_ms = 100;
  auto consumer = Consumer::create(options);
  if (!consumer.ok()) return consumer.status();
  CAIRN_RETURN_IF_ERROR((*consumer)->assign(partitions));
  CAIRN_RETURN_IF_ERROR((*consumer)->seek_to_beginning(partitions));
  std::map<std::pair<int32_t, int64_t>, size_t> index;
  std::vector<DeadLetter> out;
  while (!ends.empty()) {
    auto records = (*consumer)->poll(std::chrono::milliseconds(500));
    if (!records.ok()) return records.status();
    for (auto& r : *records) {
      if (auto redriven = header(r.record, kRedrivenHeader)) {
        auto colon = redriven->find(':');
        if (colon != std::string::npos) {
          auto key = std::make_pair(std::atoi(redriven->substr(0, colon).c_str()),
                                    std::atoll(redriven->substr(colon + 1).c_str()));
          auto found = index.find(key);
          if (found != index.end()) {
            out[found->second].redriven_to.push_back(header(r.record, kRedrivenToHeader).value_or("?"));
          }
        }
      } else {
        index[{r.partition, r.record.offset.value}] = out.size();
        out.push_back({r.partition, r.record, {}});
      }
      auto end = ends.find(r.partition);
      if (end != ends.end() && r.record.offset + 1 >= end->second) ends.erase(end);
    }
  }
  (*consumer)->close();
  return out;
}

std::string origin(const Record& r) {
  return fmt::format("{}/{}@{}", header(r, dead_letter::kSourceTopic).value_or("?"),
                     header(r, dead_letter::kSourcePartition).value_or("?"),
                     header(r, dead_letter::kSourceOffset).value_or("?"));
}


std::string dead_letter_json(const DeadLetter& d) {
  std::vector<std::string> headers, redriven;
  for (const auto& h : d.record.headers) {
    headers.push_back(fmt::format(R"({{"key":{},"value":{}}})", json_string(h.key), json_nullable(h.value)));
  }
  for (const auto& to : d.redriven_to) redriven.push_back(json_string(to));
  return fmt::format(
      R"({{"partition":{},"offset":{},"source_topic":{},"source_partition":{},"source_offset":{},"group":{},)"
      R"("delivery_count":{},"last_error":{},"key":{},"value":{},"headers":[{}],"redriven_to":[{}]}})",
      d.partition, d.record.offset.value, json_string(field(d.record, dead_letter::kSourceTopic)),
      json_string(field(d.record, dead_letter::kSourcePartition)),
      json_string(field(d.record, dead_letter::kSourceOffset)), json_string(field(d.record, dead_letter::kGroup)),
      json_string(field(d.record, dead_letter::kDeliveryCount)), json_string(field(d.record, dead_letter::kLastError)),
      json_nullable(d.record.key), json_nullable(d.record.value), fmt::join(headers, ","), fmt::join(redriven, ","));
}

int dlq_list(const DlqOptions& o) {
  auto named = dlq_name(o);
  if (!named.ok()) return fail(named.status());
  const std::string& dlq = *named;
  auto letters = read_dead_letters(o, dlq);
  if (!letters.ok()) return fail(letters.status());
  if (o.format == "json") {
    for (const auto& d : *letters) fmt::print("{}\n", dead_letter_json(d));
    return 0;
  }
  size_t redriven = 0;
  for (const auto& d : *letters) {
    redriven += !d.redriven_to.empty();
    fmt::print("{}:{}\tfrom {}\tgroup {}\tdeliveries {}\t{}\terror: {}\n", d.partition, d.record.offset.value,
               origin(d.record), field(d.record, dead_letter::kGroup), field(d.record, dead_letter::kDeliveryCount),
               d.redriven_to.empty() ? "not redriven" : "redriven to " + fmt::format("{}", fmt::join(d.redriven_to, ", ")),
               field(d.record, dead_letter::kLastError));
  }
  fmt::print(stderr, "{}: {} dead letter(s), {} redriven\n", dlq, letters->size(), redriven);
  return 0;
}

int dlq_inspect(const DlqOptions& o) {
  auto named = dlq_name(o);
  if (!named.ok()) return fail(named.status());
  const std::string& dlq = *named;
  std::optional<std::pair<int32_t, int64_t>> only;
  if (!o.offset.empty()) {
    auto colon = o.offset.find(':');
    try {
      if (colon == std::string::npos) throw std::invalid_argument("no colon");
      only = std::make_pair(std::stoi(o.offset.substr(0, colon)), std::stoll(o.offset.substr(colon + 1)));
    } catch (const std::exception&) {
      return fail(error(ErrorCode::invalid_request, "--offset {}: give PARTITION:OFFSET, as `cairn dlq list` prints",
                        o.offset));
    }
  }
  auto letters = read_dead_letters(o, dlq);
  if (!letters.ok()) return fail(letters.status());
  bool found = false;
  for (const auto& d : *letters) {
    if (only && (d.partition != only->first || d.record.offset.value != only->second)) continue;
    found = true;
    if (o.format == "json") {
      fmt::print("{}\n", dead_letter_json(d));
      continue;
    }
    fmt::print("{} {}:{}\n", dlq, d.partition, d.record.offset.value);
    fmt::print("  from:        {} (group {})\n", origin(d.record), field(d.record, dead_letter::kGroup));
    auto when = [&](std::string_view key) {
      std::string ms = field(d.record, key);
      return ms.empty() ? std::string("?") : format_time(std::atoll(ms.c_str()));
    };
    fmt::print("  deliveries:  {}, the first at {}, the last at {}\n", field(d.record, dead_letter::kDeliveryCount),
               when(dead_letter::kFirstDeliveryMs), when(dead_letter::kLastDeliveryMs));
    fmt::print("  last error:  {}\n", field(d.record, dead_letter::kLastError));
    fmt::print("  redriven:    {}\n", d.redriven_to.empty() ? "no" : fmt::format("{}", fmt::join(d.redriven_to, ", ")));
    fmt::print("  key:         {}\n", d.record.key.value_or("null"));
    fmt::print("  value:       {}\n", d.record.value.value_or("null"));
    for (const auto& h : d.record.headers) {
      if (!dead_letter::is_dead_letter_header(h.key)) fmt::print("  header:      {}={}\n", h.key, h.value.value_or("null"));
    }
  }
  if (only && !found) {
    return fail(error(ErrorCode::offset_out_of_range, "{} has no dead letter at {}", dlq, o.offset));
  }
  return 0;
}

// Produces each dead letter (not redriven before, unless --again) back to
// its source topic (or --to), without the dead-letter headers and with
// cairn.redrive.count raised, then records the redrive in the dead-letter
// topic, so that running it twice does not redrive anything twice by mistake.
int dlq_redrive(const DlqOptions& o) {
  auto named = dlq_name(o);
  if (!named.ok()) return fail(named.status());
  const std::string& dlq = *named;
  auto letters = read_dead_letters(o, dlq);
  if (!letters.ok()) return fail(letters.status());
  ProducerOptions options;
  options.client = o.brokers.client_options();
  auto producer = Producer::create(options);
  if (!producer.ok()) return fail(producer.status());
  size_t skipped_redriven = 0, filtered = 0, moved = 0;
  for (const auto& d : *letters) {
    if (o.max >= 0 && static_cast<int64_t>(moved) >= o.max) break;
    if (!d.redriven_to.empty() && !o.again) {
      ++skipped_redriven;
      continue;
    }
    const Record& r = d.record;
    if (!o.filter.empty() && field(r, dead_letter::kLastError).find(o.filter) == std::string::npos &&
        r.value.value_or("").find(o.filter) == std::string::npos) {
      ++filtered;
      continue;
    }
    std::string source = field(r, dead_letter::kSourceTopic);
    std::string target = o.to.empty() ? source : o.to;
    if (target.empty()) {
      return fail(error(ErrorCode::invalid_request, "{} {}:{} names no source topic: give --to TOPIC", dlq,
                        d.partition, r.offset.value));
    }
    ProducerRecord back{target, r.key, r.value, {}, std::nullopt, r.timestamp_ms};
    int64_t redrives = 0;
    for (const auto& h : r.headers) {
      if (h.key == dead_letter::kRedriveCount) {
        redrives = std::atoll(h.value.value_or("0").c_str());
      } else if (!dead_letter::is_dead_letter_header(h.key)) {
        back.headers.push_back(h);
      }
    }
    back.headers.push_back({std::string(dead_letter::kRedriveCount), std::to_string(redrives + 1)});
    // Back to the partition it came from, when it goes back where it came from.
    if (target == source) back.partition = std::atoi(field(r, dead_letter::kSourcePartition).c_str());
    std::optional<Result<RecordMetadata>> sent;
    (*producer)->send(back, [&](const Result<RecordMetadata>& result) { sent = result; });
    (*producer)->flush();
    if (!sent || !sent->ok()) {
      return fail(sent ? sent->status() : error(ErrorCode::unknown, "the producer did not answer"));
    }
    std::string to = fmt::format("{}/{}@{}", (*sent)->topic, (*sent)->partition, (*sent)->offset.value);
    ProducerRecord marker{dlq, std::nullopt, std::nullopt,
                          {{std::string(kRedrivenHeader), fmt::format("{}:{}", d.partition, r.offset.value)},
                           {std::string(kRedrivenToHeader), to}},
                          d.partition, std::nullopt};
    std::optional<Status> marked;
    (*producer)->send(marker, [&](const Result<RecordMetadata>& result) { marked = result.status(); });
    (*producer)->flush();
    if (!marked || !marked->ok()) {
      return fail(error(ErrorCode::unknown, "{} {}:{} went back to {} but recording that failed ({}); a second redrive "
                        "would send it again",
                        dlq, d.partition, r.offset.value, to, marked ? marked->to_string() : "no answer"));
    }
    fmt::print("{}:{} -> {} (redrive #{})\n", d.partition, r.offset.value, to, redrives + 1);
    ++moved;
  }
  fmt::print(stderr, "redrove {} record(s) from {}", moved, dlq);
  if (skipped_redriven > 0) fmt::print(stderr, "; skipped {} redriven before (--again sends them again)", skipped_redriven);
  if (filtered > 0) fmt::print(stderr, "; {} did not match --filter", filtered);
  fmt::print(stderr, "\n");
  return 0;
}

}  // namespace

void add_queue_commands(CLI::App& app, int& exit_code) {
  auto* queue = app.add_subcommand(
      "queue",
      "Share groups (queues): workers of a group share a topic's records, each record to one worker at a time; "
      "failed ones are retried, and after --share-max-delivery-attempts (5) go to the dead-letter topic "
      "TOPIC.dlq (see `cairn dlq`)");
  queue->require_subcommand(1);

  auto o = std::make_shared<QueueOptions>();
  auto* consume = queue->add_subcommand(
      "consume",
      "Take records of TOPIC as a worker of share group GROUP, print each value on its own line and acknowledge it "
      "(--ack). It never holds more records than it still has to print; records taken but not printed (Ctrl-C) go "
      "back to the queue without counting as a failed delivery\n"
      "Example: cairn queue consume jobs --group workers --max-messages 10 --print-offset");
  consume->add_option("TOPIC", o->topic, "topic to take records from")->required();
  consume->add_option("--group", o->group, "the share group (queue) to work for")->required();
  consume->add_option("--ack", o->ack,
                      "what to do with each printed record: accept (done), release (failed: deliver again, "
                      "counted) or reject (poison: to the dead-letter topic at once)")
      ->check(CLI::IsMember({"accept", "release", "reject"}))
      ->capture_default_str();
  consume->add_option("--reason", o->reason, "with --ack release or reject: the error kept with the record");
  consume->add_option("--max-messages", o->max_messages, "stop after N records");
  consume->add_option("--timeout-ms", o->timeout_ms, "stop after MS milliseconds without a new record");
  consume->add_flag("--print-delivery-count", o->print_delivery_count,
                    "print DELIVERIES<tab> before each line (1 on the first delivery)");
  o->print.add_to(*consume);
  o->brokers.add_to(*consume);
  consume->callback([o, &exit_code] { exit_code = queue_consume(*o); });

  auto d = std::make_shared<QueueOptions>();
  auto* describe = queue->add_subcommand(
      "describe",
      "Show a share group: its members, and per partition where deliveries stand (held, waiting to be retried, "
      "going to the dead-letter topic, lag)\nExample: cairn queue describe workers");
  describe->add_option("GROUP", d->group, "share group")->required();
  add_format_option(*describe, d->format, "one object with members and partitions");
  d->brokers.add_to(*describe);
  describe->callback([d, &exit_code] { exit_code = queue_describe(*d); });

  auto l = std::make_shared<QueueOptions>();
  auto* list = queue->add_subcommand("list", "List share groups\nExample: cairn queue list");
  add_format_option(*list, l->format, "an array of names");
  l->brokers.add_to(*list);
  list->callback([l, &exit_code] { exit_code = queue_list(*l); });

  auto r = std::make_shared<QueueOptions>();
  auto* reset = queue->add_subcommand(
      "reset",
      "Start a share group over on a topic: at the earliest record, the latest (skip everything waiting), or a "
      "time. Refused while its workers hold records\n"
      "Example: cairn queue reset workers --topic jobs --to 2026-11-29T06:00:00Z");
  reset->add_option("GROUP", r->group, "share group")->required();
  reset->add_option("--topic", r->topic, "topic")->required();
  reset->add_option("--to", r->to, "earliest, latest, @UNIX_MS or an ISO 8601 time with a zone")->required();
  r->brokers.add_to(*reset);
  reset->callback([r, &exit_code] { exit_code = queue_reset(*r); });

  auto x = std::make_shared<QueueOptions>();
  auto* delete_cmd = queue->add_subcommand(
      "delete",
      "Forget a share group: its delivery counts, acknowledgements and where it stands (a group of that name "
      "later starts over at the earliest record). Refused while it has workers\n"
      "Example: cairn queue delete workers");
  delete_cmd->add_option("GROUP", x->group, "share group")->required();
  x->brokers.add_to(*delete_cmd);
  delete_cmd->callback([x, &exit_code] { exit_code = queue_delete(*x); });
}

void add_dlq_commands(CLI::App& app, int& exit_code) {
  auto* dlq = app.add_subcommand(
      "dlq",
      "Dead letters: records a share group gave up on (out of delivery attempts, or rejected), kept in TOPIC.dlq "
      "with where they came from and why. TOPIC may be the source topic or its .dlq");
  dlq->require_subcommand(1);

  auto l = std::make_shared<DlqOptions>();
  auto* list = dlq->add_subcommand(
      "list", "One line per dead letter: where it is, where it came from, its group, deliveries, whether it was "
              "redriven, and the last error\nExample: cairn dlq list jobs");
  list->add_option("TOPIC", l->topic, "source topic, or its dead-letter topic")->required();
  add_format_option(*list, l->format, "one object per line");
  l->brokers.add_to(*list);
  list->callback([l, &exit_code] { exit_code = dlq_list(*l); });

  auto i = std::make_shared<DlqOptions>();
  auto* inspect = dlq->add_subcommand(
      "inspect", "Everything about dead letters: origin, deliveries, last error, key, value and headers\n"
                 "Example: cairn dlq inspect jobs --offset 0:3");
  inspect->add_option("TOPIC", i->topic, "source topic, or its dead-letter topic")->required();
  inspect->add_option("--offset", i->offset, "only the dead letter at PARTITION:OFFSET (as `dlq list` prints)");
  add_format_option(*inspect, i->format, "one object per line");
  i->brokers.add_to(*inspect);
  inspect->callback([i, &exit_code] { exit_code = dlq_inspect(*i); });

  auto r = std::make_shared<DlqOptions>();
  auto* redrive = dlq->add_subcommand(
      "redrive",
      "Send dead letters back to their source topic (or --to) to be processed again, with their original key, "
      "value and headers and a cairn.redrive.count header; prints what it moved. Each redrive is recorded in the "
      "dead-letter topic: a dead letter redriven before is skipped unless --again\n"
      "Example: cairn dlq redrive jobs --filter timeout --max 100");
  redrive->add_option("TOPIC", r->topic, "source topic, or its dead-letter topic")->required();
  redrive->add_option("--to", r->to, "send them to this topic instead of where they came from");
  redrive->add_option("--filter", r->filter, "only dead letters whose last error or value contains TEXT");
  redrive->add_option("--max", r->max, "redrive at most N");
  redrive->add_flag("--again", r->again, "also redrive dead letters that were redriven before");
  r->brokers.add_to(*redrive);
  redrive->callback([r, &exit_code] { exit_code = dlq_redrive(*r); });
}

}  // namespace cairn::tools
