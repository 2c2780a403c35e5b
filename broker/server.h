#pragma once

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "broker/admin_service.h"
#include "broker/broker_config.h"
#include "broker/broker_service.h"
#include "broker/cluster/cluster_replicas.h"
#include "broker/cluster/controller.h"
#include "broker/cluster/controller_voters.h"
#include "broker/data_dir_lock.h"
#include "broker/group/group_coordinator.h"
#include "broker/groups_service.h"
#include "broker/queues_service.h"
#include "broker/share/share_coordinator.h"
#include "broker/test_clock_skew.h"
#include "broker/listen_address.h"
#include "broker/metrics/broker_metrics.h"
#include "broker/metrics/metrics_server.h"
#include "broker/replication/replica_manager.h"
#include "broker/topic_manager.h"
#include "storage/env.h"
#include "storage/store.h"

namespace cairn::broker {

// A running broker: the data folder's lock, the store, the topics, the io
// threads and the gRPC server with every service (plus health and
// reflection). Given --controller-voters it is one broker of a cluster:
// its partitions are Raft replicas (ReplicaManager), the controller holds
// the topics, and the Raft service serves its peers. start() returns once it serves, or the reason it cannot (each
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
  Server(BrokerConfig config, std::optional<ControllerVoters> voters);
  Status open_components();
  Status open_cluster(storage::Env& env);
  Status start_grpc(const ListenAddress& address);
  void hand_off_leadership();
  void stop_serving();
  void close_store();

  const BrokerConfig config_;
  const std::optional<ControllerVoters> voters_;  // in a cluster
  // Declared in the order things must outlive each other: the store its
  // logs, io its timers, the replica manager (its transport) the replicas
  // the topics hold.
  std::unique_ptr<DataDirLock> data_dir_lock_;  // released last: outlives everything using the folder
  // Counted into from the first file opened to the last one closed.
  std::unique_ptr<BrokerMetrics> metrics_ = std::make_unique<BrokerMetrics>();
  std::unique_ptr<storage::Env> test_env_;      // --test-sync-delay-ms only; outlives the store
  std::unique_ptr<storage::Env> journal_env_;   // --test-sync-journal only; outlives the store
  std::unique_ptr<storage::Env> metered_env_;   // outlives the store
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<ProducerIdAllocator> producer_ids_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::unique_ptr<TestClockSkew> test_clock_skew_;  // --test-clock-skew-file only
  std::unique_ptr<ReplicaManager> replica_manager_;   // in a cluster
  std::unique_ptr<ClusterReplicas> cluster_replicas_; // in a cluster
  std::unique_ptr<TopicManager> topics_;
  std::unique_ptr<Controller> controller_;  // in a cluster
  std::vector<std::thread> io_threads_;
  std::unique_ptr<BrokerService> broker_service_;
  std::unique_ptr<AdminService> admin_service_;
  std::unique_ptr<GroupCoordinator> groups_;
  std::unique_ptr<GroupsService> groups_service_;
  std::unique_ptr<ShareCoordinator> shares_;
  std::unique_ptr<QueuesService> queues_service_;
  std::unique_ptr<grpc::Server> grpc_server_;
  std::unique_ptr<MetricsServer> metrics_server_;  // --metrics-listen only; reads topics_
  int32_t port_ = 0;
  std::atomic<int32_t> serving_port_{0};  // port_, once gRPC serves (read by other threads)
  bool stopped_ = false;
};

}  // namespace cairn::broker
