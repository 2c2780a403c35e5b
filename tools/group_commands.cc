#include "tools/group_commands.h"

#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cairn/admin.h"
#include "proto/strong_int.h"
#include "proto/topic_partition.h"
#include "tools/cli_common.h"
#include "tools/json.h"
#include "tools/position.h"

namespace cairn::tools {
namespace {

struct GroupOptions {
  BrokerFlag brokers;
  std::string group;
  std::string topic;
  std::string to;
  bool to_earliest = false;
  bool to_latest = false;
  int64_t to_offset = -1;
  std::string to_datetime;
  int64_t shift_by = 0;
  bool shift = false;
  bool execute = false;
  std::string format = "text";
};

std::string describe_json(const GroupDescription& g) {
  std::vector<std::string> members;
  for (const auto& m : g.members) {
    std::vector<std::string> assignment;
    for (const auto& tp : m.assignment) {
      assignment.push_back(fmt::format(R"({{"topic":{},"partition":{}}})", json_string(tp.topic), tp.partition));
    }
    members.push_back(fmt::format(R"({{"member_id":{},"member_epoch":{},"assignment":[{}]}})",
                                  json_string(m.member_id), m.member_epoch, fmt::join(assignment, ",")));
  }
  std::vector<std::string> partitions;
  for (const auto& p : g.partitions) {
    partitions.push_back(fmt::format(
        R"({{"topic":{},"partition":{},"committed":{},"log_end_offset":{},"lag":{},"owner":{}}})",
        json_string(p.tp.topic), p.tp.partition, p.committed ? std::to_string(p.committed->value) : "null",
        p.log_end_offset.value, p.lag, p.owner.empty() ? "null" : json_string(p.owner)));
  }
  return fmt::format(R"({{"group":{},"state":{},"epoch":{},"assignor":{},"members":[{}],"partitions":[{}]}})",
                     json_string(g.group), json_string(g.state), g.epoch, json_string(g.assignor),
                     fmt::join(members, ","), fmt::join(partitions, ","));
}

int list(const GroupOptions& o) {
  auto admin = Admin::connect(o.brokers.client_options());
  if (!admin.ok()) return fail(admin.status());
  auto groups = (*admin)->list_groups();
  if (!groups.ok()) return fail(groups.status());
  if (o.format == "json") {
    std::vector<std::string> objects;
    for (const auto& g : *groups) {
      objects.push_back(fmt::format(R"({{"group":{},"state":{},"members":{}}})", json_string(g.group),
                                    json_string(g.state), g.members));
    }
    fmt::print("[{}]\n", fmt::join(objects, ","));
    return 0;
  }
  for (const auto& g : *groups) fmt::print("{}\t{}\t{} member(s)\n", g.group, g.state, g.members);
  return 0;
}

int describe(const GroupOptions& o) {
  auto admin = Admin::connect(o.brokers.client_options());
  if (!admin.ok()) return fail(admin.status());
  auto g = (*admin)->describe_group(o.group);
  if (!g.ok()) return fail(g.status());
  if (o.format == "json") {
    fmt::print("{}\n", describe_json(*g));
    return 0;
  }
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

int reset_offsets(const GroupOptions& o) {
  int modes = !o.to.empty() + o.to_earliest + o.to_latest + (o.to_offset >= 0) + !o.to_datetime.empty() + o.shift;
  if (modes != 1) {
    return fail(error(ErrorCode::invalid_request,
                      "give exactly one of --to, --to-earliest, --to-latest, --to-offset, --to-datetime, --shift-by"));
  }
  // Every --to-X is a spelling of --to X.
  std::optional<Position> to;
  if (!o.shift) {
    std::string text = o.to_earliest ? "earliest" : o.to_latest ? "latest"
                       : o.to_offset >= 0 ? std::to_string(o.to_offset) : o.to.empty() ? o.to_datetime : o.to;
    auto parsed = parse_position(text, o.to_datetime.empty() ? "--to" : "--to-datetime");
    if (!parsed.ok()) return fail(parsed.status());
    if (!o.to_datetime.empty() && parsed->kind != Position::Kind::time) {
      return fail(error(ErrorCode::invalid_request, "--to-datetime '{}' is not a time: give {}", o.to_datetime,
                        kPositionHelp));
    }
    to = *parsed;
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
  std::map<TopicPartition, Offset> plan;
  fmt::print("{:<24} {:>9} {:>10} {:>10}\n", "topic", "partition", "current", "new");
  for (const auto& p : topic->partitions) {
    TopicPartition tp{o.topic, p.partition};
    Offset target;
    if (to) {
      switch (to->kind) {
        case Position::Kind::earliest: target = p.log_start_offset; break;
        case Position::Kind::latest: target = p.high_watermark; break;
        case Position::Kind::offset: target = Offset(to->value); break;
        case Position::Kind::time: {
          auto found = (*admin)->list_offset(o.topic, p.partition, OffsetSpec::at_time(to->value));
          if (!found.ok()) return fail(found.status());
          target = *found;
          break;
        }
      }
    } else {
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
  add_format_option(*list_cmd, o->format, "an array of {group, state, members}");
  o->brokers.add_to(*list_cmd);
  list_cmd->callback([o, &exit_code] { exit_code = list(*o); });

  auto* describe_cmd = group->add_subcommand(
      "describe", "Show a group's state, members and assignments, and per partition the committed offset, log end and lag\n"
      "Example: cairn group describe billing");
  describe_cmd->add_option("GROUP", o->group, "group name")->required();
  add_format_option(*describe_cmd, o->format,
                    "one object: group, state, epoch, assignor, members (member_id, member_epoch, assignment) "
                    "and partitions (topic, partition, committed, log_end_offset, lag, owner)");
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
  reset->add_option("--to", o->to, std::string("the new position, as `consume --from` takes it: ") + kPositionHelp);
  reset->add_flag("--to-earliest", o->to_earliest, "the log start (as --to earliest)");
  reset->add_flag("--to-latest", o->to_latest, "the high watermark: skip everything (as --to latest)");
  reset->add_option("--to-offset", o->to_offset, "this offset on every partition (as --to OFFSET)");
  reset->add_option("--to-datetime", o->to_datetime,
                    "the first offset at or after this ISO 8601 time with a zone, e.g. 2026-11-29T06:00:00Z");
  reset->add_option("--shift-by", o->shift_by, "move the committed offset by N (negative re-reads the last N)")
      ->each([o](const std::string&) { o->shift = true; });
  reset->add_flag("--execute", o->execute, "apply the plan (otherwise only print it)");
  o->brokers.add_to(*reset);
  reset->callback([o, &exit_code] { exit_code = reset_offsets(*o); });
}

}  // namespace cairn::tools
