#include "broker/metrics/connection_collector.h"

#include <grpc/grpc.h>
#include <grpc/support/alloc.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "broker/metrics/metric_samples.h"

namespace cairn::broker {
namespace {

// channelz answers in JSON (the channelz proto's JSON mapping), owned by the caller.
std::string take(char* json) {
  if (!json) return {};
  std::unique_ptr<char, void (*)(void*)> owned(json, gpr_free);
  return std::string(owned.get());
}

// The values of every `"key":"<id>"` in `json` (int64 ids are strings in proto JSON).
std::vector<intptr_t> ids(std::string_view json, std::string_view key) {
  std::vector<intptr_t> out;
  std::string needle = "\"" + std::string(key) + "\":\"";
  for (size_t at = json.find(needle); at != std::string_view::npos; at = json.find(needle, at)) {
    at += needle.size();
    out.push_back(static_cast<intptr_t>(std::strtoll(json.data() + at, nullptr, 10)));
  }
  return out;
}

int64_t open_connections() {
  constexpr intptr_t kPage = 500;
  int64_t count = 0;
  for (intptr_t server : ids(take(grpc_channelz_get_servers(0)), "serverId")) {
    intptr_t start = 0;
    while (true) {
      std::string page = take(grpc_channelz_get_server_sockets(server, start, kPage));
      auto sockets = ids(page, "socketId");
      count += static_cast<int64_t>(sockets.size());
      if (sockets.empty() || page.find("\"end\":true") != std::string::npos) break;
      start = *std::max_element(sockets.begin(), sockets.end()) + 1;
    }
  }
  return count;
}

}  // namespace

std::vector<prometheus::MetricFamily> ConnectionCollector::Collect() const {
  auto family = metric_family("cairn_connections_open",
                              "Open connections to the broker's gRPC port: clients and peer brokers");
  add_sample(family, {}, static_cast<double>(open_connections()));
  return {family};
}

}  // namespace cairn::broker
