#pragma once

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "broker/admin_service.h"
#include "broker/broker_config.h"
#include "broker/broker_service.h"
#include "broker/data_dir_lock.h"
#include "broker/group/group_coordinator.h"
#include "broker/groups_service.h"
#include "broker/listen_address.h"
#include "broker/topic_manager.h"
#include "storage/env.h"
#include "storage/store.h"

namespace cairn::broker {

// A running broker: the data folder's lock, the store, the topics, the io
// threads and the gRPC server with every service (plus health and
// reflection). start() returns once it serves, or the reason it cannot (each
// message says what to fix); what it had started is then stopped again.
// shutdown() stops accepting, lets in-flight requests finish (long-poll
// fetches answer at once with what they have), then syncs and marks every
// partition cleanly closed.
class Server {
 public:
  static Result<std::unique_ptr<Server>> start(BrokerConfig config);
  ~Server();

  int32_t port() const { return port_; }
  void shutdown();

 private:
  explicit Server(BrokerConfig config);
  Status open_components();
  Status start_grpc(const ListenAddress& address);
  void stop_serving();
  void close_store();

  const BrokerConfig config_;
  std::unique_ptr<DataDirLock> data_dir_lock_;  // released last: outlives everything using the folder
  std::unique_ptr<storage::Env> test_env_;      // --test-sync-delay-ms only; outlives the store
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<TopicManager> topics_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::vector<std::thread> io_threads_;
  std::unique_ptr<BrokerService> broker_service_;
  std::unique_ptr<AdminService> admin_service_;
  std::unique_ptr<GroupCoordinator> groups_;
  std::unique_ptr<GroupsService> groups_service_;
  std::unique_ptr<grpc::Server> grpc_server_;
  int32_t port_ = 0;
  bool stopped_ = false;
};

}  // namespace cairn::broker
