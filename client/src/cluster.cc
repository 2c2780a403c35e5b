#include "cluster.h"

#include "proto/host_port.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include "proto/group_placement.h"
#include "proto/grpc_process.h"
#include "proto/rpc_error.h"

namespace cairn::client {

bool unanswered(const Status& status) {
  return status.code() == ErrorCode::broker_unavailable || status.code() == ErrorCode::request_timed_out;
}

std::string address_of(const v1::BrokerInfo& broker) {
  return broker.host() + ":" + std::to_string(broker.port());
}

Cluster::Cluster(ClientOptions options, TopicCreation creation)
    : options_(std::move(options)), creation_(creation) {
  prepare_grpc_process();  // producers and consumers come and go
}

std::unique_ptr<grpc::ClientContext> Cluster::context(std::chrono::steady_clock::time_point not_after) const {
  auto timeout = std::chrono::milliseconds(options_.request_timeout_ms);
  auto now = std::chrono::steady_clock::now();
  if (not_after < now + timeout) {
    timeout = std::max(std::chrono::milliseconds(0),
                       std::chrono::duration_cast<std::chrono::milliseconds>(not_after - now));
  }
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + timeout);
  return context;
}

std::shared_ptr<BrokerConnection> Cluster::connection_locked(const std::string& address) {
  auto& slot = connections_[address];
  if (!slot) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(options_.max_message_bytes);
    args.SetMaxSendMessageSize(options_.max_message_bytes);
    // gRPC's own default waits up to 120 s between attempts to reach a broker
    // that was down: a restarted broker would go unnoticed for minutes.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, options_.retry_backoff_ms);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, options_.retry_backoff_max_ms);
    auto connection = std::make_shared<BrokerConnection>();
    connection->address = address;
    connection->channel =
        grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
    connection->broker = v1::Broker::NewStub(connection->channel);
    connection->admin = v1::Admin::NewStub(connection->channel);
    connection->groups = v1::Groups::NewStub(connection->channel);
    connection->queues = v1::Queues::NewStub(connection->channel);
    slot = connection;
  }
  return slot;
}

Result<std::shared_ptr<BrokerConnection>> Cluster::any_broker() {
  std::lock_guard lock(mutex_);
  if (options_.bootstrap_brokers.empty()) {
    return error(ErrorCode::invalid_config, "no bootstrap brokers given");
  }
  auto candidates = candidates_locked();
  return connection_locked(candidates.front());
}

void Cluster::avoid(const std::string& address) {
  std::lock_guard lock(mutex_);
  avoid_locked(address);
}

void Cluster::avoid_locked(const std::string& address) {
  // Doubling while it stays silent (up to 16 periods), so that a broker
  // hung for long costs a timeout ever more rarely.
  auto& avoided = avoided_[address];
  auto now = std::chrono::steady_clock::now();
  // Failures reported while it is avoided already (concurrent requests)
  // count as one.
  if (now < avoided.until) return;
  avoided.failures = std::min(avoided.failures + 1, 5);
  auto period = std::chrono::milliseconds(std::max<int64_t>(options_.request_timeout_ms, 1'000));
  avoided.until = now + period * (1 << (avoided.failures - 1));
  if (last_good_ == address) last_good_.clear();
}

void Cluster::answered(const std::string& address) {
  std::lock_guard lock(mutex_);
  avoided_.erase(address);
}

std::vector<std::string> Cluster::candidates_locked() const {
  std::vector<std::string> all;
  if (!last_good_.empty()) all.push_back(last_good_);
  for (const auto& [id, address] : broker_addresses_) all.push_back(address);
  for (const auto& address : options_.bootstrap_brokers) all.push_back(address);
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& address : all) {
    if (seen.insert(address).second) out.push_back(address);
  }
  // Brokers that failed to answer lately go last, the one avoided the
  // shortest first.
  auto now = std::chrono::steady_clock::now();
  auto until = [&](const std::string& address) {
    auto avoided = avoided_.find(address);
    return avoided == avoided_.end() || avoided->second.until <= now ? now : avoided->second.until;
  };
  std::stable_sort(out.begin(), out.end(),
                   [&](const std::string& a, const std::string& b) { return until(a) < until(b); });
  return out;
}

Status Cluster::refresh(const std::vector<std::string>& topics) {
  std::vector<std::string> candidates;
  {
    std::lock_guard lock(mutex_);
    if (refresh_backoff_.waiting(Backoff::Clock::now())) return refresh_failure_;
    candidates = candidates_locked();
  }
  v1::MetadataRequest request;
  for (const auto& t : topics) request.add_topics(t);
  request.set_allow_auto_topic_creation(creation_ == TopicCreation::on_first_use);
  Status last_error = error(ErrorCode::invalid_config, "no bootstrap brokers given");
  // A broker knows the leaders of the partitions it hosts a replica of: a
  // partition it does not host comes back without one (-1), and the next
  // brokers are asked until every partition has a leader or none is left.
  // A topic a broker does not know may only be new to it (created a moment
  // ago, its metadata still on the way), so the next ones are asked too.
  std::map<std::string, std::vector<int32_t>> leaders;
  std::set<std::string> missing;  // topics some answer said do not exist
  bool answered = false;
  auto incomplete = [&] {
    for (const auto& [name, by_partition] : leaders) {
      if (std::count(by_partition.begin(), by_partition.end(), -1) > 0) return true;
    }
    for (const auto& name : missing) {
      if (!leaders.count(name)) return true;
    }
    return false;
  };
  std::set<std::string> asked;
  for (size_t i = 0; i < candidates.size() && (!answered || incomplete()); ++i) {
    const std::string& address = candidates[i];
    if (!asked.insert(address).second) continue;
    std::shared_ptr<BrokerConnection> connection;
    {
      std::lock_guard lock(mutex_);
      connection = connection_locked(address);
    }
    v1::MetadataResponse response;
    auto rpc = connection->broker->Metadata(context().get(), request, &response);
    if (!rpc.ok()) {
      last_error = error(from_grpc(rpc).code(), "broker {} did not answer: {}", address,
                         rpc.error_message());
      if (unanswered(last_error)) avoid(address);
      continue;
    }
    std::lock_guard lock(mutex_);
    avoided_.erase(address);
    if (!answered) {
      last_good_ = address;
      refresh_backoff_.succeeded();
    }
    for (const auto& broker : response.brokers()) {
      if (!broker_addresses_.count(broker.id())) candidates.push_back(address_of(broker));
      broker_addresses_[broker.id()] = address_of(broker);
      if (broker.max_request_bytes() > 0) request_limits_[broker.id()] = broker.max_request_bytes();
    }
    for (const auto& topic : response.topics()) {
      if (topic.error().code() != v1::NONE) {
        missing.insert(topic.name());
        if (topic.being_created()) being_created_.insert(topic.name());
        continue;
      }
      being_created_.erase(topic.name());
      auto& by_partition = leaders[topic.name()];
      by_partition.resize(static_cast<size_t>(topic.partitions_size()), -1);
      for (const auto& p : topic.partitions()) {
        if (p.partition() >= 0 && p.partition() < topic.partitions_size() && p.leader() >= 0) {
          by_partition[static_cast<size_t>(p.partition())] = p.leader();
        }
      }
    }
    answered = true;
  }
  std::lock_guard lock(mutex_);
  if (!answered) {
    refresh_backoff_.failed(options_, Backoff::Clock::now());
    refresh_failure_ = last_error;
    return last_error;
  }
  for (const auto& name : missing) {
    if (!leaders.count(name)) topics_.erase(name);
  }
  for (auto& [name, by_partition] : leaders) topics_[name] = {std::move(by_partition), false};
  return {};
}

size_t Cluster::max_request_bytes() const {
  std::lock_guard lock(mutex_);
  int64_t limit = options_.max_message_bytes;
  for (const auto& [id, advertised] : request_limits_) limit = std::min(limit, advertised);
  return static_cast<size_t>(limit);
}

void Cluster::invalidate(const std::string& topic) {
  std::lock_guard lock(mutex_);
  auto it = topics_.find(topic);
  if (it != topics_.end()) it->second.stale = true;
}

Result<int32_t> Cluster::partition_count(const std::string& topic) {
  auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.request_timeout_ms);
  Backoff creation;
  for (int attempt = 0;; ++attempt) {
    {
      std::lock_guard lock(mutex_);
      auto it = topics_.find(topic);
      if (it != topics_.end()) return static_cast<int32_t>(it->second.leaders.size());
      bool waiting = attempt > 0 && being_created_.count(topic) && std::chrono::steady_clock::now() < give_up;
      if (attempt > 0 && !waiting) break;
      if (attempt > 0) creation.failed(options_, Backoff::Clock::now());
    }
    if (attempt > 0) std::this_thread::sleep_until(creation.retry_at());
    CAIRN_RETURN_IF_ERROR(refresh({topic}));
  }
  std::lock_guard lock(mutex_);
  if (being_created_.count(topic)) {
    return error(ErrorCode::unknown_topic_or_partition,
                 "topic '{}' is being created on its first use, and did not appear within {} ms; retry", topic,
                 options_.request_timeout_ms);
  }
  return error(ErrorCode::unknown_topic_or_partition,
               "topic '{}' does not exist (create it with `cairn topic create {}`)", topic, topic);
}

Result<std::shared_ptr<BrokerConnection>> Cluster::leader(const TopicPartition& tp) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    {
      std::lock_guard lock(mutex_);
      auto it = topics_.find(tp.topic);
      if (it != topics_.end() && !it->second.stale) {
        const auto& leaders = it->second.leaders;
        if (tp.partition < 0 || tp.partition >= static_cast<int32_t>(leaders.size())) {
          return error(ErrorCode::unknown_topic_or_partition, "topic '{}' has no partition {}",
                       tp.topic, tp.partition);
        }
        auto address = broker_addresses_.find(leaders[static_cast<size_t>(tp.partition)]);
        if (address != broker_addresses_.end()) return connection_locked(address->second);
      }
    }
    if (attempt == 0) CAIRN_RETURN_IF_ERROR(refresh({tp.topic}));
  }
  std::lock_guard lock(mutex_);
  if (!topics_.count(tp.topic)) {
    return error(ErrorCode::unknown_topic_or_partition, "topic '{}' does not exist", tp.topic);
  }
  // The topic exists but its partition's leader is being elected: retriable.
  return error(ErrorCode::not_leader, "no leader known for {} yet", tp);
}

Result<std::shared_ptr<BrokerConnection>> Cluster::coordinator(const std::string& group,
                                                               const std::string& state_topic) {
  auto partitions = partition_count(state_topic);
  if (!partitions.ok()) {
    // Not created yet (a cluster's controller makes it): a moment's wait.
    return error(ErrorCode::not_leader, "group {}: no coordinator yet ({})", group,
                 partitions.status().message());
  }
  auto coordinator = leader({state_topic, offsets_partition_of(group, *partitions)});
  if (!coordinator.ok()) return error(coordinator.status().code(), "group {}: {}", group, coordinator.status().message());
  return coordinator;
}

std::vector<std::shared_ptr<BrokerConnection>> Cluster::all_brokers() {
  (void)refresh();
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<BrokerConnection>> out;
  for (const auto& [id, address] : broker_addresses_) out.push_back(connection_locked(address));
  return out;
}

Status check_client_options(const ClientOptions& options) {
  if (options.bootstrap_brokers.empty()) {
    return error(ErrorCode::invalid_config, "no bootstrap brokers given");
  }
  if (options.retry_backoff_ms < 1 || options.retry_backoff_max_ms < options.retry_backoff_ms) {
    return error(ErrorCode::invalid_config, "1 <= retry_backoff_ms <= retry_backoff_max_ms is required");
  }
  if (options.max_message_bytes < kMinMaxMessageBytes) {
    return error(ErrorCode::invalid_config, "max_message_bytes must be at least {}", kMinMaxMessageBytes);
  }
  return {};
}

}  // namespace cairn::client

namespace cairn {

Result<std::vector<std::string>> parse_broker_list(const std::string& list) {
  auto bad = [](std::string_view item, std::string_view why) {
    return error(ErrorCode::invalid_config,
                 "broker address '{}' {}: give host:port[,host:port...], e.g. 127.0.0.1:7070", item, why);
  };
  if (list.empty()) return error(ErrorCode::invalid_config, "no broker address given: give host:port[,host:port...]");
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    std::string item = list.substr(start, comma - start);
    if (item.empty()) return bad(list, "has an empty address between commas");
    auto address = parse_host_port(item);
    if (!address.ok()) return bad(item, address.status().message());
    if (address->port == 0) return bad(item, "has port 0, which no broker listens on");
    out.push_back(item);
    start = comma + 1;
  }
  return out;
}

}  // namespace cairn
