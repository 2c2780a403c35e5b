#include "broker/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

#include <fstream>

namespace cairn::broker {

// How long in-flight requests get to finish at shutdown.
constexpr auto kShutdownGrace = std::chrono::seconds(5);

Server::Server(BrokerConfig config) : config_(std::move(config)), work_(io_.get_executor()) {}

Result<std::unique_ptr<Server>> Server::start(BrokerConfig config) {
  std::unique_ptr<Server> server(new Server(std::move(config)));
  const BrokerConfig& c = server->config_;
  spdlog::info("cairnd {}: data in {}", "0.1.0", c.data_dir);

  storage::StoreOptions options;
  options.data_dir = c.data_dir;
  options.retention_check_interval_ms = c.retention_check_interval_ms;
  auto store = storage::Store::open(options);
  if (!store.ok()) return store.status();
  server->store_ = std::move(*store);

  auto topics = TopicManager::open(*server->store_, c.data_dir + "/.topics", c.topic_defaults,
                                   c.max_request_bytes);
  if (!topics.ok()) return topics.status();
  server->topics_ = std::move(*topics);
  spdlog::info("recovered {} topic(s)", server->topics_->topics().size());

  GroupCoordinatorOptions group_options;
  group_options.offsets_retention_ms = c.offsets_retention_ms;
  auto groups = GroupCoordinator::open(*server->topics_, server->io_, group_options);
  if (!groups.ok()) return groups.status();
  server->groups_ = std::move(*groups);
  // A deleted topic takes the groups' offsets with it: a recreated topic of
  // the same name starts afresh instead of at a stale offset.
  server->topics_->set_removal_listener([groups = server->groups_.get()](const std::string& topic) {
    groups->forget_topic(topic);
  });

  for (int i = 0; i < std::max(1, c.io_threads); ++i) {
    server->io_threads_.emplace_back([s = server.get()] { s->io_.run(); });
  }
  CAIRN_RETURN_IF_ERROR(server->start_grpc());
  return server;
}

Status Server::start_grpc() {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config_.listen, grpc::InsecureServerCredentials(), &port_);
  builder.SetMaxReceiveMessageSize(static_cast<int>(config_.max_request_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(config_.max_request_bytes));
  // The port is known only after BuildAndStart; services read it lazily.
  broker_service_ = std::make_unique<BrokerService>(config_, *topics_, io_, 0);
  admin_service_ = std::make_unique<AdminService>(config_, *topics_);
  groups_service_ = std::make_unique<GroupsService>(*groups_, *topics_);
  builder.RegisterService(broker_service_.get());
  builder.RegisterService(admin_service_.get());
  builder.RegisterService(groups_service_.get());
  grpc_server_ = builder.BuildAndStart();
  if (!grpc_server_ || port_ == 0) {
    return error(ErrorCode::io_error, "cannot listen on {} (in use, or not a local address?)",
                 config_.listen);
  }
  broker_service_->set_advertised_port(port_);
  spdlog::info("listening on {} (port {})", config_.listen, port_);
  if (!config_.port_file.empty()) {
    std::string tmp = config_.port_file + ".tmp";
    std::ofstream(tmp) << port_ << "\n";
    std::rename(tmp.c_str(), config_.port_file.c_str());
  }
  return {};
}

void Server::shutdown() {
  if (stopped_) return;
  stopped_ = true;
  spdlog::info("shutting down: finishing in-flight requests");
  broker_service_->begin_shutdown();
  for (const auto& topic : topics_->topics()) {
    for (const auto& partition : topic.partitions) partition->waiters.wake_all();
  }
  grpc_server_->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
  groups_->stop();
  work_.reset();
  io_.stop();
  for (auto& t : io_threads_) t.join();
  Status closed = store_->close();
  if (closed.ok()) {
    spdlog::info("stopped cleanly");
  } else {
    spdlog::error("closing the store failed: {}", closed.to_string());
  }
}

Server::~Server() { shutdown(); }

}  // namespace cairn::broker
