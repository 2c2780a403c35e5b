#include "broker/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <thread>

#include "broker/cluster/node_identity.h"
#include "broker/share/dead_letter_sink.h"
#include "broker/metrics/connection_collector.h"
#include "broker/metrics/controller_collector.h"
#include "broker/metrics/group_collector.h"
#include "broker/metrics/metered_env.h"
#include "broker/metrics/partition_collector.h"
#include "broker/metrics/scrub_collector.h"
#include "broker/metrics/share_collector.h"
#include "proto/grpc_process.h"
#include "proto/thread_name.h"
#include "storage/power_loss_journal.h"
#include "storage/slow_sync_env.h"

namespace cairn::broker {

namespace {

// How long in-flight requests get to finish at shutdown.
constexpr auto kShutdownGrace = std::chrono::seconds(5);

// The host of `listen` ("host:port") that this machine can connect to: a
// wildcard address is reached through loopback.
std::string connectable_host(const std::string& listen) {
  std::string host = listen.substr(0, listen.rfind(':'));
  if (host == "0.0.0.0") return "127.0.0.1";
  if (host == "[::]") return "[::1]";
  return host;
}

}  // namespace

Server::Server(BrokerConfig config, std::optional<ControllerVoters> voters)
    : config_(std::move(config)), voters_(std::move(voters)), work_(io_.get_executor()) {}

Result<std::unique_ptr<Server>> Server::start(BrokerConfig config) {
  prepare_grpc_process();
  // Checked before anything is touched: a bad address or a taken port must
  // not cost a recovery of every partition first.
  auto address = parse_listen_address(config.listen);
  if (!address.ok()) return address.status();
  std::optional<ControllerVoters> voters;
  if (!config.controller_voters.empty()) {
    auto parsed = parse_controller_voters(config.controller_voters);
    if (!parsed.ok()) return parsed.status();
    CAIRN_RETURN_IF_ERROR(check_member_of(*parsed, config.node_id, config.listen));
    voters = std::move(*parsed);
  }
  CAIRN_RETURN_IF_ERROR(check_can_listen(*address));
  if (!config.metrics_listen.empty()) {
    auto metrics_address = parse_listen_address(config.metrics_listen);
    if (!metrics_address.ok()) {
      return error(ErrorCode::invalid_config, "--metrics-listen: {}", metrics_address.status().message());
    }
    Status free = check_can_listen(*metrics_address, "--metrics-listen");
    if (!free.ok()) return error(free.code(), "cannot serve metrics: {}", free.message());
  }
  std::unique_ptr<Server> server(new Server(std::move(config), std::move(voters)));
  spdlog::info("cairnd {}: data in {}", "0.1.0", server->config_.data_dir);
  CAIRN_RETURN_IF_ERROR(server->open_components());
  CAIRN_RETURN_IF_ERROR(server->start_grpc(*address));
  return server;
}

Status Server::open_components() {
  const BrokerConfig& c = config_;
  auto lock = DataDirLock::acquire(c.data_dir);
  if (!lock.ok()) return lock.status();
  data_dir_lock_ = std::move(*lock);

  if (!c.test_clock_skew_file.empty()) {
    spdlog::warn("--test-clock-skew-file {}: the wall clock is stepped by the test (for fault tests only)",
                 c.test_clock_skew_file);
    test_clock_skew_ = std::make_unique<TestClockSkew>(io_, c.test_clock_skew_file);
  }
  storage::StoreOptions options;
  options.data_dir = c.data_dir;
  options.retention_check_interval_ms = c.retention_check_interval_ms;
  options.scrub = {.bytes_per_second = c.scrub_bytes_per_second, .interval_ms = c.scrub_interval_ms};
  if (c.test_refuse_produce_every > 0) {
    spdlog::warn("--test-refuse-produce-every {}: produce requests are refused on purpose (for fault "
                 "tests only)", c.test_refuse_produce_every);
  }
  if (c.test_drop_produce_responses_every > 0) {
    spdlog::warn("--test-drop-produce-responses-every {}: produce acknowledgements are lost on "
                 "purpose (for fault tests only)", c.test_drop_produce_responses_every);
  }
  if (c.test_sync_delay_ms > 0) {
    spdlog::warn("--test-sync-delay-ms {}: every file sync is slowed down (for fault tests only)",
                 c.test_sync_delay_ms);
    test_env_ = std::make_unique<storage::SlowSyncEnv>(
        *options.env, std::chrono::milliseconds(c.test_sync_delay_ms));
    options.env = test_env_.get();
  }
  if (!c.test_sync_journal.empty()) {
    spdlog::warn("--test-sync-journal {}: every sync is journaled so that a test can cut the power "
                 "(for fault tests only)", c.test_sync_journal);
    auto journal = storage::PowerLossJournalEnv::open(*options.env, c.test_sync_journal);
    if (!journal.ok()) return journal.status();
    journal_env_ = std::move(*journal);
    options.env = journal_env_.get();
  }
  metered_env_ = std::make_unique<MeteredEnv>(*options.env, *metrics_);
  options.env = metered_env_.get();
  auto store = storage::Store::open(options);
  if (!store.ok()) return store.status();
  store_ = std::move(*store);
  auto producer_ids = ProducerIdAllocator::open(*options.env, c.data_dir + "/.producer-ids", c.node_id);
  if (!producer_ids.ok()) return producer_ids.status();
  producer_ids_ = std::move(*producer_ids);

  if (voters_) CAIRN_RETURN_IF_ERROR(open_cluster(*options.env));
  // In a cluster the registry is the broker's image of the controller's log.
  auto topics = TopicManager::open(*store_, c.data_dir + (voters_ ? "/.cluster-topics" : "/.topics"),
                                   c.topic_defaults, c.max_request_bytes, cluster_replicas_.get());
  if (!topics.ok()) return topics.status();
  topics_ = std::move(*topics);
  spdlog::info("recovered {} topic(s)", topics_->topics().size());
  GroupCoordinatorOptions group_options;
  group_options.offsets_retention_ms = c.offsets_retention_ms;
  group_options.offsets_topic_retention_ms = c.offsets_topic_retention_ms;
  group_options.replicated = voters_.has_value();
  auto groups = GroupCoordinator::open(*topics_, io_, group_options);
  if (!groups.ok()) return groups.status();
  groups_ = std::move(*groups);
  ShareCoordinatorOptions share_options;
  share_options.limits.record_lock_ms = c.share_record_lock_ms;
  share_options.limits.max_record_locks = c.share_max_record_locks;
  share_options.limits.max_delivery_attempts = c.share_max_delivery_attempts;
  share_options.max_fetch_wait_ms = c.max_fetch_wait_ms;
  share_options.replicated = voters_.has_value();
  share_options.state_topic_retention_ms = c.offsets_topic_retention_ms;
  // Dead letters go through the cluster like a client's records: to every
  // voter, or to this broker once it serves.
  auto dead_letters = std::make_unique<DeadLetterSink>([this] {
    std::vector<std::string> brokers;
    if (voters_) {
      for (const auto& broker : voters_->brokers) brokers.push_back(broker.address);
    } else if (int32_t port = serving_port_.load(); port != 0) {
      brokers.push_back(fmt::format("{}:{}", connectable_host(config_.listen), port));
    }
    return brokers;
  });
  auto shares = ShareCoordinator::open(*topics_, io_, share_options, std::move(dead_letters));
  if (!shares.ok()) return shares.status();
  shares_ = std::move(*shares);
  // A deleted topic takes the groups' offsets with it (a recreated topic of
  // the same name starts afresh instead of at a stale offset), and its
  // metric series.
  topics_->set_removal_listener([groups = groups_.get(), shares = shares_.get(),
                                  metrics = metrics_.get()](const std::string& topic) {
    groups->forget_topic(topic);
    shares->forget_topic(topic);
    metrics->forget_topic(topic);
  });

  for (int i = 0; i < std::max(1, c.io_threads); ++i) {
    io_threads_.emplace_back([this] {
      name_this_thread("cairn-io");
      io_.run();
    });
  }
  if (voters_) {
    Controller::Options options;
    options.self = c.node_id;
    options.voters = *voters_;
    options.default_partitions = c.default_partitions;
    options.snapshot_records = c.metadata_snapshot_records;
    // Replicated partitions cannot be compacted yet: the groups' offsets
    // and share state are kept by time, and their coordinators write live
    // ones again within a quarter of it (GroupCoordinator, ShareCoordinator);
    // segments roll as often, so retention can drop them.
    auto state_topic = [&](const char* name, int32_t partitions) {
      v1::TopicSpec spec;
      spec.set_name(name);
      spec.set_partitions(partitions);
      spec.mutable_configs()->insert({"cleanup.policy", "delete"});
      spec.mutable_configs()->insert({"retention.ms", std::to_string(c.offsets_topic_retention_ms)});
      spec.mutable_configs()->insert({"segment.ms", std::to_string(c.offsets_topic_retention_ms / 4)});
      spec.mutable_configs()->insert({"segment.bytes", "104857600"});
      return spec;
    };
    options.internal_topics.push_back(state_topic(kOffsetsTopic, group_options.offsets_partitions));
    options.internal_topics.push_back(state_topic(kShareStateTopic, share_options.state_partitions));
    auto controller = Controller::start(options, *store_, *cluster_replicas_, *topics_);
    if (!controller.ok()) return controller.status();
    controller_ = std::move(*controller);
    if (c.auto_create_topics) {
      topics_->set_first_use_creator([controller = controller_.get()](const std::string& name) {
        controller->create_on_first_use(name);
      });
    }
  }
  // Before gRPC: a broker that cannot serve its metrics never looks started.
  if (!config_.metrics_listen.empty()) {
    std::vector<std::shared_ptr<prometheus::Collectable>> collected{
        metrics_->registry(), std::make_shared<PartitionCollector>(*topics_, config_.node_id),
        std::make_shared<GroupCollector>(*groups_, *topics_), std::make_shared<ScrubCollector>(*store_),
        std::make_shared<ConnectionCollector>()};
    if (controller_) collected.push_back(std::make_shared<ControllerCollector>(*controller_));
    collected.push_back(std::make_shared<ShareCollector>(*shares_));
    auto metrics = MetricsServer::start(config_.metrics_listen, std::move(collected));
    if (!metrics.ok()) return metrics.status();
    metrics_server_ = std::move(*metrics);
    spdlog::info("serving metrics on http://{}/metrics (port {})", config_.metrics_listen, metrics_server_->port());
  }
  return {};
}

// A broker of a cluster: its folder bound to its id and voters, the Raft
// side (transport to every other voter, the replicas' state files).
Status Server::open_cluster(storage::Env& env) {
  const BrokerConfig& c = config_;
  CAIRN_RETURN_IF_ERROR(check_node_identity(env, c.data_dir, c.node_id, voters_->canonical()));
  auto single = load_topics(c.data_dir + "/.topics");
  if (single.ok() && !single->topics.empty()) {
    return error(ErrorCode::invalid_config,
                 "{} holds the topics of a broker that ran alone ({} of them); a cluster cannot "
                 "adopt them yet: start that broker without --controller-voters, or give this one "
                 "an empty --data-dir",
                 c.data_dir, single->topics.size());
  }
  ReplicaManager::Options options;
  options.self = c.node_id;
  options.cluster_id = voters_->canonical();
  for (const auto& broker : voters_->brokers) {
    if (broker.id != c.node_id) options.peers.push_back(broker);
  }
  for (const std::string& route : c.test_peer_routes) {
    auto equals = route.find('=');
    auto peer = std::find_if(options.peers.begin(), options.peers.end(), [&](const PeerBroker& p) {
      return equals != std::string::npos && std::to_string(p.id) == route.substr(0, equals);
    });
    if (peer == options.peers.end()) {
      return error(ErrorCode::invalid_config, "--test-peer-route {}: not ID=HOST:PORT of another voter", route);
    }
    peer->address = route.substr(equals + 1);
    spdlog::warn("Raft traffic to broker {} goes through {} (--test-peer-route, for fault tests only)",
                 peer->id, peer->address);
  }
  replica_manager_ = std::make_unique<ReplicaManager>(options, io_);
  cluster_replicas_ =
      std::make_unique<ClusterReplicas>(c.node_id, *replica_manager_, env, c.data_dir + "/.raft");
  spdlog::info("broker {} of a cluster of {} (controller voters {})", c.node_id,
               voters_->brokers.size(), voters_->canonical());
  return {};
}

Status Server::start_grpc(const ListenAddress& address) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // One port, one broker: with SO_REUSEPORT (gRPC's default) a second broker
  // on a port in use would start "fine" and the kernel would split
  // connections between the two.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Registers the server's connections with channelz, which
  // cairn_connections_open counts (ConnectionCollector).
  builder.AddChannelArgument(GRPC_ARG_ENABLE_CHANNELZ, 1);
  builder.AddListeningPort(address.to_string(), grpc::InsecureServerCredentials(), &port_);
  builder.SetMaxReceiveMessageSize(static_cast<int>(config_.max_request_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(config_.max_request_bytes));
  // The port is known only after BuildAndStart; services read it lazily.
  broker_service_ = std::make_unique<BrokerService>(config_, *topics_, io_, 0, controller_.get(), *metrics_,
                                                    *producer_ids_);
  admin_service_ = std::make_unique<AdminService>(config_, *topics_, controller_.get());
  builder.RegisterService(broker_service_.get());
  builder.RegisterService(admin_service_.get());
  if (groups_) {
    groups_service_ = std::make_unique<GroupsService>(*groups_, *topics_);
    builder.RegisterService(groups_service_.get());
  }
  queues_service_ = std::make_unique<QueuesService>(*shares_);
  builder.RegisterService(queues_service_.get());
  if (replica_manager_) {
    builder.RegisterService(&replica_manager_->service());
    RaftService::allow_peer_keepalive(builder);
  }
  grpc_server_ = builder.BuildAndStart();
  if (!grpc_server_ || port_ == 0) {
    // Taken since the check in start(), or refused for a reason a plain bind does not meet.
    Status why = check_can_listen(address);
    return why.ok() ? error(ErrorCode::io_error, "gRPC cannot listen on {}; see its log line above",
                            address.to_string())
                    : why;
  }
  broker_service_->set_advertised_port(port_);
  serving_port_ = port_;
  spdlog::info("listening on {} (port {})", config_.listen, port_);
  if (!config_.port_file.empty()) {
    std::string tmp = config_.port_file + ".tmp";
    std::ofstream(tmp) << port_ << "\n";
    std::rename(tmp.c_str(), config_.port_file.c_str());
  }
  return {};
}

// Each step stops only what start() got to: a failed start leaves some
// members null, and the destructor runs this too.
void Server::shutdown() {
  if (stopped_) return;
  stopped_ = true;
  metrics_server_.reset();  // scrapes read the partitions: none while they close
  // Leaderships first, while every group still runs (hand_off_leadership).
  if (grpc_server_ && replica_manager_) hand_off_leadership();
  // The controller next: changes waiting on it answer shutting_down, so
  // the server's shutdown does not wait them out.
  if (controller_) controller_->stop();
  // Waiting share fetches answer now rather than at their deadline.
  if (shares_) shares_->stop();
  if (grpc_server_) stop_serving();
  if (groups_) groups_->stop();
  work_.reset();
  io_.stop();
  for (auto& t : io_threads_) t.join();
  if (store_) close_store();
}

// A controlled shutdown, as Kafka's: the partitions led here, and the
// controller if it is here, move to caught-up followers while this broker
// still answers, so each is without a leader for one transfer rather than
// for an election timeout after it stops. Transfers that time out are
// retried; bounded by kHandOffWait, and by kNoTakerWait once no follower
// is caught up to take one.
// Then its replicas stop taking part: leadership handed back to this broker
// (the preferred leader of some partitions) or an election it won during
// the grace period would strand those partitions when it exits.
void Server::hand_off_leadership() {
  constexpr auto kHandOffWait = std::chrono::seconds(5);
  constexpr auto kNoTakerWait = std::chrono::seconds(1);
  auto led_here = [&] {
    std::vector<std::shared_ptr<Replica>> out;
    for (const auto& topic : topics_->topics()) {
      for (const auto& partition : topic.partitions) {
        if (partition && partition->replica() && partition->replica()->is_leader()) out.push_back(partition->replica());
      }
    }
    if (controller_ && controller_->replica()->is_leader()) out.push_back(controller_->replica());
    return out;
  };
  auto led = led_here();
  if (!led.empty()) spdlog::info("shutting down: handing leadership of {} group(s) to followers", led.size());
  auto now = std::chrono::steady_clock::now();
  auto give_up = now + kHandOffWait;
  // A follower may be a moment short of caught up (its acknowledgement of
  // the last appends on the way, or a transfer to it just ended): only
  // after kNoTakerWait without any transfer under way is none coming.
  auto no_taker_until = now + kNoTakerWait;
  while (!led.empty() && now < give_up) {
    bool moving = false;
    for (const auto& replica : led) moving = replica->hand_off() || moving;
    if (moving) {
      no_taker_until = now + kNoTakerWait;
    } else if (now >= no_taker_until) {
      break;  // no caught-up follower to hand any of them to
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    led = led_here();
    now = std::chrono::steady_clock::now();
  }
  if (!led.empty()) {
    spdlog::warn("shutting down: {} group(s) still led here (no caught-up follower took them); they "
                 "elect a leader once this broker's replicas stop",
                 led.size());
  }
  for (const auto& topic : topics_->topics()) {
    for (const auto& partition : topic.partitions) {
      if (partition && partition->replica()) partition->replica()->stop();
    }
  }
  spdlog::info("shutting down: this broker's replicas stopped; the others of each group go on");
}

void Server::stop_serving() {
  spdlog::info("shutting down: finishing in-flight requests");
  broker_service_->begin_shutdown();
  for (const auto& topic : topics_->topics()) {
    for (const auto& partition : topic.partitions) {
      if (partition) partition->waiters().wake_all();
    }
  }
  grpc_server_->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
}

void Server::close_store() {
  Status closed = store_->close();
  if (!closed.ok()) {
    spdlog::error("closing the store failed: {}", closed.to_string());
  } else if (grpc_server_) {
    spdlog::info("stopped cleanly");
  }
}

Server::~Server() { shutdown(); }

}  // namespace cairn::broker
