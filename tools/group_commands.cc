#include "tools/group_commands.h"

#include <ctime>

#include <fmt/format.h>

#include "cairn/admin.h"
#include "tools/cli_common.h"

namespace cairn::tools {
namespace {

struct GroupOptions {
  BrokerFlag brokers;
  std::string group;
  std::string topic;
  bool to_earliest = false;
  bool to_latest = false;
  int64_t to_offset = -1;
  std::string to_datetime;
  int64_t shift_by = 0;
  bool shift = false;
  bool execute = false;
};

int list(const GroupOptions& o) {
  auto admin = Admin::connect(o.brokers.client_options());
  if (!admin.ok()) return fail(admin.status());
  auto groups = (*admin)->list_groups();
  if (!groups.ok()) return fail(groups.status());
  for (const auto& g : *groups) fmt::print("{}\t{}\t{} member(s)\n", g.group, g.state, g.members);
  return 0;
}

int describe(const GroupOptions& o) {
  auto admin = Admin::connect(o.brokers.client_options());
  if (!admin.ok()) return fail(admin.status());
  auto g = (*admin)->describe_group(o.group);
  if (!g.ok()) return fail(g.status());
  fmt::print("group {}: {}, epoch {}, assignor {}, {} member(s)\n", g->group, g->state, g->epoch,
             g->assignor, g->members.size());
  for (const auto& m : g->members) {
    std::string assignment;
    for (const auto& tp : m.assignment) assignment += fmt::format("{} ", tp);
    fmt::print("  member {} (epoch {}): {}\n", m.member_id, m.member_epoch,
               assignment.empty() ? "nothing assigned" : assignment);
  }
  fmt::print("{:<24} {:>9} {:>10} {:>10} {:>8}  {}\n", "topic", "partition", "committed", "log-end",
             "lag", "owner");
  for (const auto& p : g->partitions) {
    fmt::print("{:<24} {:>9} {:>10} {:>10} {:>8}  {}\n", p.tp.topic, p.tp.partition,
               p.committed ? std::to_string(p.committed->value) : "-", p.log_end_offset, p.lag,
               p.owner.empty() ? "-" : p.owner);
  }
  return 0;
}

int remove(const GroupOptions& o) {
  auto admin = Admin::connect(o.brokers.client_options());
  if (!admin.ok()) return fail(admin.status());
  Status removed = (*admin)->delete_group(o.group);
  if (!removed.ok()) return fail(removed);
  fmt::print("deleted group {}\n", o.group);
  return 0;
}

// ISO 8601 (2026-11-29T06:00:00Z, or with +hh:mm, or local time without a zone) to Unix ms.
Result<int64_t> parse_datetime(const std::string& text) {
  std::tm tm{};
  int offset_minutes = 0;
  const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest) return error(ErrorCode::invalid_request, "'{}' is not YYYY-MM-DDTHH:MM:SS[Z|+hh:mm]", text);
  int64_t millis = 0;
  if (*rest == '.') {
    ++rest;
    int digits = 0;
    while (*rest >= '0' && *rest <= '9') {
      if (digits++ < 3) millis = millis * 10 + (*rest - '0');
      ++rest;
    }
    while (digits++ < 3) millis *= 10;
  }
  bool utc = false;
  if (*rest == 'Z') {
    utc = true;
  } else if (*rest == '+' || *rest == '-') {
    int h = 0, m = 0;
    if (std::sscanf(rest + 1, "%d:%d", &h, &m) < 1) return error(ErrorCode::invalid_request, "bad zone in '{}'", text);
    offset_minutes = (*rest == '-' ? -1 : 1) * (h * 60 + m);
    utc = true;
  }
  time_t seconds = utc ? timegm(&tm) - offset_minutes * 60 : mktime(&tm);
  return static_cast<int64_t>(seconds) * 1000 + millis;
}

int reset_offsets(const GroupOptions& o) {
  int modes = o.to_earliest + o.to_latest + (o.to_offset >= 0) + !o.to_datetime.empty() + o.shift;
  if (modes != 1) {
    return fail(error(ErrorCode::invalid_request,
                      "give exactly one of --to-earliest, --to-latest, --to-offset, --to-datetime, --shift-by"));
  }
  auto admin = Admin::connect(o.brokers.client_options());
  if (!admin.ok()) return fail(admin.status());
  auto topic = (*admin)->describe_topic(o.topic);
  if (!topic.ok()) return fail(topic.status());
  auto group = (*admin)->describe_group(o.group);
  std::map<TopicPartition, Offset> committed;
  if (group.ok()) {
    if (!group->members.empty()) {
      return fail(error(ErrorCode::group_not_empty,
                        "group {} has {} active member(s); stop its consumers before resetting offsets",
                        o.group, group->members.size()));
    }
    for (const auto& p : group->partitions) {
      if (p.committed) committed[p.tp] = *p.committed;
    }
  }
  std::optional<int64_t> at_time;
  if (!o.to_datetime.empty()) {
    auto parsed = parse_datetime(o.to_datetime);
    if (!parsed.ok()) return fail(parsed.status());
    at_time = *parsed;
  }
  std::map<TopicPartition, Offset> plan;
  fmt::print("{:<24} {:>9} {:>10} {:>10}\n", "topic", "partition", "current", "new");
  for (const auto& p : topic->partitions) {
    TopicPartition tp{o.topic, p.partition};
    Offset target;
    if (o.to_earliest) target = p.log_start_offset;
    if (o.to_latest) target = p.high_watermark;
    if (o.to_offset >= 0) target = Offset(o.to_offset);
    if (at_time) {
      auto found = (*admin)->list_offset(o.topic, p.partition, OffsetSpec::at_time(*at_time));
      if (!found.ok()) return fail(found.status());
      target = *found;
    }
    if (o.shift) {
      Offset from = committed.count(tp) ? committed[tp] : p.high_watermark;
      target = from + o.shift_by;
    }
    target = std::clamp(target, p.log_start_offset, p.high_watermark);
    plan[tp] = target;
    fmt::print("{:<24} {:>9} {:>10} {:>10}\n", o.topic, p.partition,
               committed.count(tp) ? std::to_string(committed[tp].value) : "-", target);
  }
  if (!o.execute) {
    fmt::print("dry run: add --execute to apply\n");
    return 0;
  }
  Status applied = (*admin)->commit_offsets(o.group, plan);
  if (!applied.ok()) return fail(applied);
  fmt::print("offsets of group {} reset on {} partition(s)\n", o.group, plan.size());
  return 0;
}

}  // namespace

void add_group_commands(CLI::App& app, int& exit_code) {
  auto* group = app.add_subcommand("group", "List, describe, delete consumer groups and reset their offsets");
  group->require_subcommand(1);
  auto o = std::make_shared<GroupOptions>();

  auto* list_cmd = group->add_subcommand("list", "List groups with their state and member count\nExample: cairn group list");
  o->brokers.add_to(*list_cmd);
  list_cmd->callback([o, &exit_code] { exit_code = list(*o); });

  auto* describe_cmd = group->add_subcommand(
      "describe", "Show a group's state, members and assignments, and per partition the committed offset, log end and lag\n"
      "Example: cairn group describe billing");
  describe_cmd->add_option("GROUP", o->group, "group name")->required();
  o->brokers.add_to(*describe_cmd);
  describe_cmd->callback([o, &exit_code] { exit_code = describe(*o); });

  auto* delete_cmd = group->add_subcommand("delete", "Forget a group and its committed offsets (refused while it has members)\nExample: cairn group delete billing");
  delete_cmd->add_option("GROUP", o->group, "group name")->required();
  o->brokers.add_to(*delete_cmd);
  delete_cmd->callback([o, &exit_code] { exit_code = remove(*o); });

  auto* reset = group->add_subcommand(
      "reset-offsets",
      "Rewind or move a group's committed offsets on a topic; prints the plan, applies it with --execute\n"
      "Example: cairn group reset-offsets billing --topic orders --to-datetime 2026-11-29T06:00:00Z --execute");
  reset->add_option("GROUP", o->group, "group name")->required();
  reset->add_option("--topic", o->topic, "topic whose partitions to reset")->required();
  reset->add_flag("--to-earliest", o->to_earliest, "the log start");
  reset->add_flag("--to-latest", o->to_latest, "the high watermark (skip everything)");
  reset->add_option("--to-offset", o->to_offset, "this offset on every partition");
  reset->add_option("--to-datetime", o->to_datetime, "the first offset at or after this ISO 8601 time");
  reset->add_option("--shift-by", o->shift_by, "move the committed offset by N (negative re-reads the last N)")
      ->each([o](const std::string&) { o->shift = true; });
  reset->add_flag("--execute", o->execute, "apply the plan (otherwise only print it)");
  o->brokers.add_to(*reset);
  reset->callback([o, &exit_code] { exit_code = reset_offsets(*o); });
}

}  // namespace cairn::tools
