#include "broker/cluster/controller_voters.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "broker/listen_address.h"
#include "proto/assert.h"

namespace cairn::broker {
namespace {

Result<PeerBroker> parse_voter(const std::string& entry) {
  auto at = entry.find('@');
  if (at == std::string::npos || at == 0) {
    return error(ErrorCode::invalid_config,
                 "--controller-voters entry '{}' is not ID@HOST:PORT (e.g. 1@127.0.0.1:7071)", entry);
  }
  int32_t id = -1;
  auto [end, ec] = std::from_chars(entry.data(), entry.data() + at, id);
  if (ec != std::errc() || end != entry.data() + at || id < 0) {
    return error(ErrorCode::invalid_config,
                 "--controller-voters entry '{}': the id must be a number from 0 up", entry);
  }
  auto address = parse_listen_address(entry.substr(at + 1));
  if (!address.ok()) {
    return error(ErrorCode::invalid_config, "--controller-voters entry '{}': {}", entry,
                 address.status().message());
  }
  if (address->port == 0) {
    return error(ErrorCode::invalid_config,
                 "--controller-voters entry '{}': a voter needs a fixed port, not 0", entry);
  }
  return PeerBroker{id, address->to_string()};
}

bool is_wildcard(const std::string& host) {
  return host == "0.0.0.0" || host == "::" || host == "[::]";
}

}  // namespace

std::string ControllerVoters::canonical() const {
  std::string out;
  for (const auto& broker : brokers) {
    if (!out.empty()) out += ',';
    out += std::to_string(broker.id) + "@" + broker.address;
  }
  return out;
}

const PeerBroker* ControllerVoters::find(int32_t id) const {
  for (const auto& broker : brokers) {
    if (broker.id == id) return &broker;
  }
  return nullptr;
}

std::vector<int32_t> ControllerVoters::ids() const {
  std::vector<int32_t> out;
  for (const auto& broker : brokers) out.push_back(broker.id);
  return out;
}

Result<ControllerVoters> parse_controller_voters(const std::string& text) {
  ControllerVoters voters;
  std::set<std::string> addresses;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = std::min(text.find(',', start), text.size());
    std::string entry = text.substr(start, comma - start);
    start = comma + 1;
    if (entry.empty()) {
      return error(ErrorCode::invalid_config,
                   "--controller-voters '{}' has an empty entry; give ID@HOST:PORT,ID@HOST:PORT,...",
                   text);
    }
    auto voter = parse_voter(entry);
    if (!voter.ok()) return voter.status();
    if (voters.find(voter->id)) {
      return error(ErrorCode::invalid_config, "--controller-voters names broker {} twice", voter->id);
    }
    if (!addresses.insert(voter->address).second) {
      return error(ErrorCode::invalid_config,
                   "--controller-voters gives {} to two brokers; each needs its own address",
                   voter->address);
    }
    voters.brokers.push_back(std::move(*voter));
  }
  std::sort(voters.brokers.begin(), voters.brokers.end(),
            [](const PeerBroker& a, const PeerBroker& b) { return a.id < b.id; });
  return voters;
}

Status check_member_of(const ControllerVoters& voters, int32_t node_id, const std::string& listen) {
  const PeerBroker* self = voters.find(node_id);
  if (!self) {
    return error(ErrorCode::invalid_config,
                 "--node-id {} is not in --controller-voters {}: give this broker an id the list "
                 "names, or add it to every broker's list",
                 node_id, voters.canonical());
  }
  auto serving = parse_listen_address(listen);
  if (!serving.ok()) return serving.status();
  auto expected = parse_listen_address(self->address);
  CAIRN_ASSERT(expected.ok());
  bool same_host = serving->host == expected->host || is_wildcard(serving->host);
  if (!same_host || serving->port != expected->port) {
    return error(ErrorCode::invalid_config,
                 "--listen {} is not where the other brokers will look for broker {}: "
                 "--controller-voters says {}; listen there (or on 0.0.0.0 with port {})",
                 listen, node_id, self->address, expected->port);
  }
  return {};
}

}  // namespace cairn::broker
