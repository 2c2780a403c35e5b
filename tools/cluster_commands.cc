#include "tools/cluster_commands.h"

#include <fmt/format.h>

#include "cairn/admin.h"
#include "tools/cli_common.h"

namespace cairn::tools {
namespace {

int describe(const BrokerFlag& brokers) {
  auto admin = Admin::connect(brokers.client_options());
  if (!admin.ok()) return fail(admin.status());
  auto cluster = (*admin)->describe_cluster();
  if (!cluster.ok()) return fail(cluster.status());
  fmt::print("{:>6} {:<24} {:<12} {}\n", "broker", "address", "state", "role");
  for (const auto& broker : cluster->brokers) {
    fmt::print("{:>6} {:<24} {:<12} {}\n", broker.id, broker.address,
               broker.reachable ? "up" : "unreachable",
               broker.id == cluster->controller_id ? "controller" : "");
  }
  if (cluster->controller_id < 0) {
    fmt::print("no controller elected: a majority of the brokers must be up\n");
    return 1;
  }
  return 0;
}

}  // namespace

void add_cluster_commands(CLI::App& app, int& exit_code) {
  auto* cluster = app.add_subcommand("cluster", "Inspect the cluster: brokers and controller");
  cluster->require_subcommand(1);
  auto brokers = std::make_shared<BrokerFlag>();
  auto* describe_cmd = cluster->add_subcommand(
      "describe",
      "List the brokers (each asked directly whether it answers) and which one is the "
      "controller; exits 1 while no controller is elected\nExample: cairn cluster describe");
  brokers->add_to(*describe_cmd);
  describe_cmd->callback([brokers, &exit_code] { exit_code = describe(*brokers); });
}

}  // namespace cairn::tools
