#pragma once

#include <cstdint>
#include <string>

#include "proto/status.h"
#include "storage/env.h"

namespace cairn::broker {

// Binds a data folder to one broker of one cluster: <data-dir>/.node holds
// the node id and cluster id (the canonical controller voters) the folder
// was first served with, written durably on that first start. Starting on
// a folder another node wrote, or with other voters, is refused: the
// broker would present another broker's replicas (their terms and votes)
// as its own, and could vote twice in one term.
Status check_node_identity(storage::Env& env, const std::string& data_dir, int32_t node_id,
                           const std::string& cluster_id);

}  // namespace cairn::broker
