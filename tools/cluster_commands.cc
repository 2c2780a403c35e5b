#include "tools/cluster_commands.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "cairn/admin.h"
#include "tools/cli_common.h"

namespace cairn::tools {
namespace {

int describe(const BrokerFlag& brokers) {
  auto admin = Admin::connect(brokers.client_options());
  if (!admin.ok()) return fail(admin.status());
  auto cluster = (*admin)->describe_cluster();
  if (!cluster.ok()) return fail(cluster.status());
  fmt::print("{:>6} {:<24} {:<12} {:<16} {}\n", "broker", "address", "state", "controller-sees", "role");
  for (const auto& broker : cluster->brokers) {
    std::string role = broker.id == cluster->controller_id ? "controller" : "";
    if (broker.decommissioned) role += role.empty() ? "decommissioned" : ",decommissioned";
    fmt::print("{:>6} {:<24} {:<12} {:<16} {}\n", broker.id, broker.address,
               broker.reachable ? "up" : "unreachable",
               !broker.live ? "-" : *broker.live ? "live" : "not-heard-from", role);
  }
  if (cluster->controller_id < 0) {
    fmt::print("no controller elected: a majority of the brokers must be up\n");
    return 1;
  }
  return 0;
}

// Each broker listed answers its gRPC health service with SERVING: what a
// container health check or a load balancer asks.
int health(const BrokerFlag& brokers) {
  ClientOptions options = brokers.client_options();
  options.request_timeout_ms = 5'000;
  auto admin = Admin::connect(options);
  if (!admin.ok()) return fail(admin.status());
  int unhealthy = 0;
  for (const auto& address : options.bootstrap_brokers) {
    Status serving = (*admin)->check_health(address);
    if (serving.ok()) {
      fmt::print("{}: serving\n", address);
    } else {
      fmt::print("{}: not serving: {}\n", address, serving.message());
      ++unhealthy;
    }
  }
  return unhealthy == 0 ? 0 : 1;
}

// Every topic, internal ones included, as its partitions' leaders describe
// it; a topic deleted between the listing and its description is left out.
Result<std::vector<TopicDescription>> describe_every_topic(Admin& admin) {
  auto names = admin.list_topics(true);
  if (!names.ok()) return names.status();
  std::vector<TopicDescription> out;
  for (const auto& name : *names) {
    auto topic = admin.describe_topic(name);
    if (topic.status().code() == ErrorCode::unknown_topic_or_partition) continue;
    if (!topic.ok()) return topic.status();
    out.push_back(std::move(*topic));
  }
  return out;
}

// Prints how many brokers serve and which is the controller; adds the
// brokers that do not serve (decommissioned ones aside: they may be gone for
// good) and a missing controller to `problems`.
void check_brokers(Admin& admin, const ClusterDescription& cluster, std::vector<std::string>& problems) {
  int serving = 0, expected = 0;
  for (const auto& broker : cluster.brokers) {
    if (broker.decommissioned) continue;
    ++expected;
    Status health = admin.check_health(broker.address);
    if (health.ok()) {
      ++serving;
    } else {
      problems.push_back(fmt::format("broker {} ({}) does not serve: {}", broker.id, broker.address, health.message()));
    }
  }
  fmt::print("brokers: {} of {} serve; controller: {}\n", serving, expected,
             cluster.controller_id < 0 ? std::string("none elected") : fmt::format("broker {}", cluster.controller_id));
  if (cluster.controller_id < 0) problems.push_back("no controller elected: a majority of the brokers must be up");
}

// Prints the partition counts; adds those without a leader or with a
// replica behind to `problems`.
void check_partitions(const std::vector<TopicDescription>& topics, std::vector<std::string>& problems) {
  int partitions = 0, leaderless = 0, under_replicated = 0;
  for (const auto& topic : topics) {
    for (const auto& p : topic.partitions) {
      ++partitions;
      if (p.leader < 0) {
        ++leaderless;
        problems.push_back(fmt::format("{}/{} has no leader (replicas {})", topic.name, p.partition,
                                       fmt::join(p.replicas, ",")));
      } else if (!p.caught_up.empty() && p.caught_up.size() < p.replicas.size()) {
        ++under_replicated;
        problems.push_back(fmt::format("{}/{} is under-replicated: replicas {}, caught up {}", topic.name,
                                       p.partition, fmt::join(p.replicas, ","), fmt::join(p.caught_up, ",")));
      }
    }
  }
  fmt::print("partitions: {} ({} without a leader, {} under-replicated)\n", partitions, leaderless, under_replicated);
}

// Prints the consumer-group partitions furthest behind (lag is not a problem
// of the cluster's: it is the consumers').
Status print_largest_lags(Admin& admin) {
  constexpr size_t kLargestLags = 5;
  auto groups = admin.list_groups();
  if (!groups.ok()) return groups.status();
  std::vector<std::pair<int64_t, std::string>> lags;
  for (const auto& summary : *groups) {
    auto group = admin.describe_group(summary.group);
    if (!group.ok()) continue;  // deleted meanwhile
    for (const auto& p : group->partitions) {
      if (p.lag > 0) lags.emplace_back(p.lag, fmt::format("{} {}/{}", summary.group, p.tp.topic, p.tp.partition));
    }
  }
  std::sort(lags.rbegin(), lags.rend());
  if (lags.size() > kLargestLags) lags.resize(kLargestLags);
  fmt::print("largest group lags:{}\n", lags.empty() ? " none" : "");
  for (const auto& [lag, where] : lags) fmt::print("  {}: {} record(s) behind\n", where, lag);
  return {};
}

// What an operator checks first. Healthy (exit 0) when every broker serves,
// a controller is elected, and every partition has a leader and every
// replica caught up.
int cluster_health(const BrokerFlag& brokers) {
  auto admin = Admin::connect(brokers.client_options());
  if (!admin.ok()) return fail(admin.status());
  auto cluster = (*admin)->describe_cluster();
  if (!cluster.ok()) return fail(cluster.status());
  std::vector<std::string> problems;
  check_brokers(**admin, *cluster, problems);
  auto topics = describe_every_topic(**admin);
  if (!topics.ok()) return fail(topics.status());
  check_partitions(*topics, problems);
  if (Status printed = print_largest_lags(**admin); !printed.ok()) return fail(printed);
  for (const auto& problem : problems) fmt::print("problem: {}\n", problem);
  fmt::print("{}\n", problems.empty() ? "healthy" : "unhealthy");
  return problems.empty() ? 0 : 1;
}

// The partitions still moving, over every topic.
Result<int> moving_partitions(Admin& admin) {
  auto topics = describe_every_topic(admin);
  if (!topics.ok()) return topics.status();
  int moving = 0;
  for (const auto& topic : *topics) {
    for (const auto& p : topic.partitions) moving += p.moving_to.empty() ? 0 : 1;
  }
  return moving;
}

enum class MoveKind { decommission, add, cancel };

struct MoveOptions {
  MoveKind kind = MoveKind::decommission;
  BrokerFlag brokers;
  int32_t broker = 0;
  bool wait = false;
};

int move(const MoveOptions& o) {
  auto admin = Admin::connect(o.brokers.client_options());
  if (!admin.ok()) return fail(admin.status());
  auto moves = o.kind == MoveKind::decommission ? (*admin)->decommission_broker(o.broker)
               : o.kind == MoveKind::add        ? (*admin)->add_broker(o.broker)
                                                : (*admin)->cancel_moves();
  if (!moves.ok()) return fail(moves.status());
  for (const auto& m : *moves) {
    fmt::print("{}/{}: {} -> {}\n", m.topic, m.partition, fmt::join(m.from, ","), fmt::join(m.to, ","));
  }
  fmt::print("{} partition move(s) started\n", moves->size());
  if (!o.wait || moves->empty()) return 0;
  for (int last = -1;;) {
    auto moving = moving_partitions(**admin);
    if (!moving.ok()) return fail(moving.status());
    if (*moving == 0) break;
    if (*moving != last) fmt::print("{} partition(s) still moving\n", *moving);
    last = *moving;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  fmt::print("every move is done\n");
  return 0;
}

int rebalance_leaders(const BrokerFlag& brokers) {
  auto admin = Admin::connect(brokers.client_options());
  if (!admin.ok()) return fail(admin.status());
  auto moved = (*admin)->rebalance_leaders();
  if (!moved.ok()) return fail(moved.status());
  fmt::print("{} leadership transfer(s) started\n", *moved);
  return 0;
}

void add_move_command(CLI::App& cluster, int& exit_code, MoveKind kind) {
  auto o = std::make_shared<MoveOptions>();
  o->kind = kind;
  CLI::App* cmd = nullptr;
  switch (kind) {
    case MoveKind::decommission:
      cmd = cluster.add_subcommand(
          "decommission",
          "Move every replica off a broker (each to the live broker with the fewest that lacks "
          "that partition) and keep new topics off it, while clients keep running: new replicas "
          "catch up as learners, then replace it. One move operation at a time.\nExample: cairn "
          "cluster decommission 3 --wait");
      break;
    case MoveKind::add:
      cmd = cluster.add_subcommand(
          "add-broker",
          "Take a broker (back) into the cluster: new topics may use it again, and replicas move "
          "onto it from the brokers holding the most until it holds its share. The broker must be "
          "in the --controller-voters and live.\nExample: cairn cluster add-broker 3 --wait");
      break;
    case MoveKind::cancel:
      cmd = cluster.add_subcommand(
          "cancel-moves",
          "Move every partition still moving back to the replicas it had: the way out of a move "
          "that cannot finish because a broker it moves to is gone\nExample: cairn cluster "
          "cancel-moves --wait");
      break;
  }
  if (kind != MoveKind::cancel) {
    cmd->add_option("broker", o->broker, "The broker's id (its --node-id)")->required();
  }
  cmd->add_flag("--wait", o->wait, "Wait until every move is done, showing how many are left");
  o->brokers.add_to(*cmd);
  cmd->callback([o, &exit_code] { exit_code = move(*o); });
}

}  // namespace

void add_cluster_commands(CLI::App& app, int& exit_code) {
  auto* cluster = app.add_subcommand("cluster", "Inspect and change the cluster: brokers, controller, replica moves, leaders");
  cluster->require_subcommand(1);
  auto brokers = std::make_shared<BrokerFlag>();
  auto* describe_cmd = cluster->add_subcommand(
      "describe",
      "List the brokers: whether each answers when asked directly (state), whether the "
      "controller heard from it in the last 5 s (controller-sees), which is the controller and "
      "which are decommissioned; exits 1 while no controller is elected\nExample: cairn cluster describe");
  brokers->add_to(*describe_cmd);
  describe_cmd->callback([brokers, &exit_code] { exit_code = describe(*brokers); });
  add_move_command(*cluster, exit_code, MoveKind::decommission);
  add_move_command(*cluster, exit_code, MoveKind::add);
  add_move_command(*cluster, exit_code, MoveKind::cancel);
  auto* rebalance_cmd = cluster->add_subcommand(
      "rebalance-leaders",
      "Hand each partition's leadership to its preferred replica (the first assigned) now, where "
      "that one is caught up; brokers do it on their own a few seconds after one returns\n"
      "Example: cairn cluster rebalance-leaders");
  brokers->add_to(*rebalance_cmd);
  rebalance_cmd->callback([brokers, &exit_code] { exit_code = rebalance_leaders(*brokers); });
  auto* health_cluster_cmd = cluster->add_subcommand(
      "health",
      "What to check first: brokers that do not serve, partitions without a leader or "
      "under-replicated, and the largest consumer-group lags; exits 0 when healthy, 1 otherwise\n"
      "Example: cairn cluster health");
  brokers->add_to(*health_cluster_cmd);
  health_cluster_cmd->callback([brokers, &exit_code] { exit_code = cluster_health(*brokers); });

  auto health_brokers = std::make_shared<BrokerFlag>();
  auto* health_cmd = app.add_subcommand(
      "health",
      "Ask each listed broker's gRPC health service (grpc.health.v1) whether it serves; exits 0 "
      "when every one does, 1 otherwise (within 5 s). For container health checks and scripts\n"
      "Example: cairn health -b 127.0.0.1:7070,127.0.0.1:7071");
  health_brokers->add_to(*health_cmd);
  health_cmd->callback([health_brokers, &exit_code] { exit_code = health(*health_brokers); });
}

}  // namespace cairn::tools
