#include "tools/topic_commands.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cairn/admin.h"
#include "proto/strong_int.h"
#include "proto/topic_partition.h"
#include "tools/cli_common.h"
#include "tools/json.h"

namespace cairn::tools {
namespace {

struct TopicOptions {
  BrokerFlag brokers;
  std::string name;
  int32_t partitions = 0;
  int32_t replication_factor = 0;
  std::vector<std::string> configs;
  bool internal = false;
  bool if_not_exists = false;
  std::string format = "text";
};

std::string json_ids(const std::vector<int32_t>& ids) { return fmt::format("[{}]", fmt::join(ids, ",")); }

std::string describe_json(const TopicDescription& topic) {
  std::vector<std::string> partitions;
  for (const auto& p : topic.partitions) {
    partitions.push_back(fmt::format(
        R"({{"partition":{},"leader":{},"replicas":{},"caught_up":{},"moving_to":{},"log_start_offset":{},)"
        R"("high_watermark":{},"log_end_offset":{},"size_bytes":{},"segments":{}}})",
        p.partition, p.leader < 0 ? std::string("null") : std::to_string(p.leader), json_ids(p.replicas),
        json_ids(p.caught_up), json_ids(p.moving_to), p.log_start_offset.value, p.high_watermark.value,
        p.log_end_offset.value, p.size_bytes, p.segments));
  }
  std::vector<std::string> configs, overridden;
  for (const auto& [key, value] : topic.configs) configs.push_back(json_string(key) + ":" + json_string(value));
  for (const auto& key : topic.overridden) overridden.push_back(json_string(key));
  return fmt::format(R"({{"name":{},"internal":{},"partitions":[{}],"configs":{{{}}},"overridden":[{}],)"
                     R"("retention_check_interval_ms":{}}})",
                     json_string(topic.name), topic.internal, fmt::join(partitions, ","), fmt::join(configs, ","),
                     fmt::join(overridden, ","), topic.retention_check_interval_ms);
}

Result<std::unique_ptr<Admin>> connect(const TopicOptions& o) {
  return Admin::connect(o.brokers.client_options());
}

int create(const TopicOptions& o) {
  auto configs = parse_key_values(o.configs);
  if (!configs.ok()) return fail(configs.status());
  auto admin = connect(o);
  if (!admin.ok()) return fail(admin.status());
  Status created = (*admin)->create_topic({o.name, o.partitions, o.replication_factor, *configs});
  if (created.code() == ErrorCode::topic_already_exists && o.if_not_exists) {
    fmt::print("topic {} already exists; left as it is\n", o.name);
    return 0;
  }
  if (!created.ok()) return fail(created);
  // The broker asked may learn of the topic a moment after the controller.
  auto topic = (*admin)->describe_topic(o.name);
  if (!topic.ok() || topic->partitions.empty()) {
    fmt::print("created topic {}\n", o.name);
    return 0;
  }
  fmt::print("created topic {} with {} partition(s) of {} replica(s)\n", o.name,
             topic->partitions.size(), topic->partitions.front().replicas.size());
  return 0;
}

int list(const TopicOptions& o) {
  auto admin = connect(o);
  if (!admin.ok()) return fail(admin.status());
  auto names = (*admin)->list_topics(o.internal);
  if (!names.ok()) return fail(names.status());
  if (o.format == "json") {
    std::vector<std::string> quoted;
    for (const auto& name : *names) quoted.push_back(json_string(name));
    fmt::print("[{}]\n", fmt::join(quoted, ","));
    return 0;
  }
  for (const auto& name : *names) fmt::print("{}\n", name);
  return 0;
}

int describe(const TopicOptions& o) {
  auto admin = connect(o);
  if (!admin.ok()) return fail(admin.status());
  auto topic = (*admin)->describe_topic(o.name);
  if (!topic.ok()) return fail(topic.status());
  if (o.format == "json") {
    fmt::print("{}\n", describe_json(*topic));
    return 0;
  }
  fmt::print("topic {}{}: {} partition(s)\n", topic->name,
             topic->internal ? " (internal: the brokers write it; clients may only read it)" : "",
             topic->partitions.size());
  fmt::print("{:>9} {:>6} {:>10} {:>10} {:>12} {:>14} {:>12} {:>12} {:>8}\n", "partition",
             "leader", "replicas", "caught-up", "log-start", "high-watermark", "log-end", "bytes",
             "segments");
  for (const auto& p : topic->partitions) {
    fmt::print("{:>9} {:>6} {:>10} {:>10} {:>12} {:>14} {:>12} {:>12} {:>8}\n", p.partition,
               p.leader < 0 ? std::string("-") : std::to_string(p.leader),
               p.moving_to.empty() ? fmt::format("{}", fmt::join(p.replicas, ","))
                                   : fmt::format("{}->{}", fmt::join(p.replicas, ","), fmt::join(p.moving_to, ",")),
               p.caught_up.empty() ? std::string("-") : fmt::format("{}", fmt::join(p.caught_up, ",")),
               p.log_start_offset, p.high_watermark, p.log_end_offset, p.size_bytes, p.segments);
  }
  fmt::print("configs (* set for this topic; the others are the broker's defaults):\n");
  for (const auto& [key, value] : topic->configs) {
    fmt::print("  {} {} = {}\n", topic->overridden.count(key) ? '*' : ' ', key, value);
  }
  fmt::print("retention is applied every {} ms (cairnd --retention-check-interval-ms): records outlive "
             "retention.ms and retention.bytes by up to that long, and go a whole segment at a time\n",
             topic->retention_check_interval_ms);
  return 0;
}

int alter(const TopicOptions& o) {
  auto configs = parse_key_values(o.configs);
  if (!configs.ok()) return fail(configs.status());
  if (configs->empty()) return fail(error(ErrorCode::invalid_request, "give at least one --config KEY=VALUE"));
  auto admin = connect(o);
  if (!admin.ok()) return fail(admin.status());
  Status altered = (*admin)->alter_topic_configs(o.name, *configs);
  if (!altered.ok()) return fail(altered);
  fmt::print("altered {} config(s) of {}\n", configs->size(), o.name);
  return 0;
}

int remove(const TopicOptions& o) {
  auto admin = connect(o);
  if (!admin.ok()) return fail(admin.status());
  Status removed = (*admin)->delete_topic(o.name);
  if (!removed.ok()) return fail(removed);
  fmt::print("deleted topic {}\n", o.name);
  return 0;
}

constexpr const char* kConfigHelp =
    "KEY=VALUE topic setting, repeatable: retention.ms (default 604800000, -1 forever), "
    "retention.bytes (-1), segment.bytes (1073741824), segment.ms (604800000), "
    "max.message.bytes (1048576), flush.policy (on_append|interval), flush.ms (1000), "
    "flush.bytes (16777216), cleanup.policy (delete|compact|compact,delete), "
    "delete.retention.ms (86400000), preallocate.bytes (262144; 0 on btrfs or ZFS)";

}  // namespace

void add_topic_commands(CLI::App& app, int& exit_code) {
  auto* topic = app.add_subcommand("topic", "Create, list, describe, alter and delete topics");
  topic->require_subcommand(1);
  auto o = std::make_shared<TopicOptions>();

  auto* create_cmd = topic->add_subcommand("create", "Create a topic\nExample: cairn topic create orders --partitions 6 --replication-factor 3 --config retention.ms=86400000");
  create_cmd->add_option("NAME", o->name, "topic name: letters, digits, '.', '_', '-'")->required();
  create_cmd->add_option("--partitions", o->partitions, "number of partitions (default: the broker's --default-partitions)")->check(CLI::Range(1, 10'000));
  create_cmd->add_option("--replication-factor", o->replication_factor,
                         "copies of each partition, on as many brokers (default: 3 in a cluster of 3 or more, else every broker; 1 on a broker alone)")
      ->check(CLI::Range(1, 100));
  create_cmd->add_option("--config", o->configs, kConfigHelp);
  create_cmd->add_flag("--if-not-exists", o->if_not_exists,
                       "succeed, changing nothing, when the topic exists already (for setup scripts)");
  o->brokers.add_to(*create_cmd);
  create_cmd->callback([o, &exit_code] { exit_code = create(*o); });

  auto* list_cmd = topic->add_subcommand("list", "List topic names\nExample: cairn topic list --internal");
  list_cmd->add_flag("--internal", o->internal, "include internal topics (names starting with __)");
  add_format_option(*list_cmd, o->format, "an array of names");
  o->brokers.add_to(*list_cmd);
  list_cmd->callback([o, &exit_code] { exit_code = list(*o); });

  auto* describe_cmd = topic->add_subcommand("describe", "Show partitions (leader, replicas and which are caught up, offsets, size) and every config of a topic; a moving partition shows its replicas as FROM->TO\nExample: cairn topic describe orders");
  describe_cmd->add_option("NAME", o->name, "topic name")->required();
  add_format_option(*describe_cmd, o->format,
                    "one object: name, partitions (partition, leader, replicas, caught_up, moving_to, "
                    "log_start_offset, high_watermark, log_end_offset, size_bytes, segments) and configs");
  o->brokers.add_to(*describe_cmd);
  describe_cmd->callback([o, &exit_code] { exit_code = describe(*o); });

  auto* alter_cmd = topic->add_subcommand("alter", "Change topic configs at runtime\nExample: cairn topic alter orders --config retention.ms=3600000");
  alter_cmd->add_option("NAME", o->name, "topic name")->required();
  alter_cmd->add_option("--config", o->configs, kConfigHelp)->required();
  o->brokers.add_to(*alter_cmd);
  alter_cmd->callback([o, &exit_code] { exit_code = alter(*o); });

  auto* delete_cmd = topic->add_subcommand("delete", "Delete a topic and all its data\nExample: cairn topic delete orders");
  delete_cmd->add_option("NAME", o->name, "topic name")->required();
  o->brokers.add_to(*delete_cmd);
  delete_cmd->callback([o, &exit_code] { exit_code = remove(*o); });
}

}  // namespace cairn::tools
