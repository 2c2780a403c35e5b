#include "broker/cluster/node_identity.h"

#include <fmt/format.h>

#include "storage/durable_file.h"

namespace cairn::broker {

Status check_node_identity(storage::Env& env, const std::string& data_dir, int32_t node_id,
                           const std::string& cluster_id) {
  std::string path = data_dir + "/.node";
  std::string expected = fmt::format("node.id={}\ncluster={}\n", node_id, cluster_id);
  auto found = storage::read_small_file(env, path, 64 << 10);
  if (!found.ok()) return found.status();
  if (!*found) return storage::replace_file_durably(env, path, expected);
  if (**found == expected) return {};
  std::string written = **found;
  std::string written_id = written.substr(0, written.find('\n'));
  if (written_id != fmt::format("node.id={}", node_id)) {
    return error(ErrorCode::invalid_config,
                 "{} belongs to another broker ({} in {}), not --node-id {}: give each broker its "
                 "own --data-dir, and start this one with the id its folder was made with",
                 data_dir, written_id, path, node_id);
  }
  return error(ErrorCode::invalid_config,
               "{} was served in a cluster of other controller voters ({}), not --controller-voters "
               "{}: start it with the list it was made with (changing the voters is not supported yet)",
               data_dir, written.substr(written.find('\n') + 1, written.size() - written.find('\n') - 2),
               cluster_id);
}

}  // namespace cairn::broker
