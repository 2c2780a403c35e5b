// GET /metrics on a real broker, after real produce and fetch traffic: the
// Prometheus text an operator's scraper reads.

#include <grpcpp/grpcpp.h>

#include <fstream>

#include "cairn/share_consumer.h"
#include "cluster_fixture.h"
#include "local_cluster.h"
#include "metrics_scrape.h"

using namespace cairn;
using namespace cairn::testing;

namespace {

std::string scrape(int port) {
  auto text = scrape_metrics(port, std::chrono::seconds(10));
  REQUIRE(text);
  return *text;
}

// The metrics port a broker started with --metrics-listen 127.0.0.1:0 chose,
// as its log says ("serving metrics on ... (port N)").
int metrics_port_of(const BrokerProcess& broker) {
  std::ifstream log(broker.log_path());
  for (std::string line; std::getline(log, line);) {
    auto at = line.find("serving metrics on ");
    if (at == std::string::npos) continue;
    auto port = line.find("(port ", at);
    if (port != std::string::npos) return std::stoi(line.substr(port + 6));
  }
  FAIL("no metrics port in " << broker.log_path());
  return 0;
}

}  // namespace

TEST_CASE("TheBrokerServesPrometheusMetricsOfItsTraffic", "[integration][metrics]") {
  int port = pick_free_port();
  SingleBroker cluster({"--metrics-listen", fmt::format("127.0.0.1:{}", port)});
  cluster.create_topic("orders", 2);
  auto producer = cluster.producer();
  for (int i = 0; i < 10; ++i) {
    REQUIRE(producer->send({.topic = "orders", .value = "order-" + std::to_string(i), .partition = i % 2}).get().ok());
  }
  auto consumer = cluster.consumer();
  REQUIRE(consumer->assign({{"orders", 0}, {"orders", 1}}).ok());
  REQUIRE(consume(*consumer, 10).size() == 10);
  auto refused = producer->send({.topic = "orders", .value = "x", .partition = 7}).get();
  CHECK_FALSE(refused.ok());
  // A group that read 2 of partition 0's 5 records and none of partition 1's.
  REQUIRE(cluster.admin->commit_offsets("billing", {{{"orders", 0}, Offset(2)}, {{"orders", 1}, Offset(0)}}).ok());

  std::string text = scrape(port);
  INFO(text);
  CHECK(metric_sample(text, R"(cairn_records_in_total{topic="orders"})") == 10);
  CHECK(metric_sample(text, R"(cairn_bytes_in_total{topic="orders"})") > 10 * 7);
  CHECK(metric_sample(text, R"(cairn_bytes_out_total{topic="orders"})") >= metric_sample(text, R"(cairn_bytes_in_total{topic="orders"})"));
  CHECK(metric_sample(text, "cairn_produce_request_seconds_count") >= 10);
  CHECK(metric_sample(text, "cairn_fetch_request_seconds_count") >= 1);
  // acks=all: each produce waited for a sync, so syncs happened and took time.
  CHECK(metric_sample(text, "cairn_fsync_seconds_count") >= 1);
  CHECK(metric_sample(text, "cairn_fsync_seconds_sum") > 0);
  CHECK(metric_sample(text, "cairn_group_commit_bytes_sum") > 0);
  for (int p = 0; p < 2; ++p) {
    std::string labels = fmt::format(R"({{topic="orders",partition="{}"}})", p);
    CHECK(metric_sample(text, "cairn_partition_high_watermark" + labels) == 5);
    CHECK(metric_sample(text, "cairn_partition_log_end_offset" + labels) == 5);
    CHECK(metric_sample(text, "cairn_partition_log_start_offset" + labels) == 0);
    CHECK(metric_sample(text, "cairn_partition_size_bytes" + labels) > 0);
    CHECK(metric_sample(text, "cairn_partition_leader" + labels) == 0);  // this broker, id 0
  }
  CHECK(metric_sample(text, "cairn_produce_streams_open") == 1);  // the producer's, still open
  CHECK(metric_sample(text, R"(cairn_group_members{group="billing"})") == 0);
  CHECK(metric_sample(text, R"(cairn_group_committed_offset{group="billing",topic="orders",partition="0"})") == 2);
  CHECK(metric_sample(text, R"(cairn_group_lag_offsets{group="billing",topic="orders",partition="0"})") == 3);
  CHECK(metric_sample(text, R"(cairn_group_lag_offsets{group="billing",topic="orders",partition="1"})") == 5);
  // A broker alone has no Raft groups and no controller.
  CHECK(metric_sample(text, R"(cairn_partition_raft_term{topic="orders",partition="0"})") == -1);
  CHECK_THAT(text, !Catch::Contains("cairn_controller_leader"));
  CHECK(metric_sample(text, "cairn_scrub_damage_found_total") == 0);
  CHECK_THAT(text, Catch::Contains("# TYPE cairn_scrub_bytes_total counter"));
  CHECK_THAT(text, Catch::Contains("# TYPE cairn_produce_request_seconds histogram"));
  CHECK_THAT(text, Catch::Contains("# HELP cairn_records_in_total "));

  // A share group whose one worker holds 4 records of the 10.
  ShareConsumerOptions share;
  share.client = cluster.client_options();
  share.group_id = "workers";
  share.acknowledgement_mode = AcknowledgementMode::explicit_;
  auto worker = ShareConsumer::create(share);
  REQUIRE(worker.ok());
  REQUIRE((*worker)->subscribe({"orders"}).ok());
  auto held = (*worker)->poll(std::chrono::seconds(5), 4);
  REQUIRE(held.ok());
  REQUIRE(held->size() == 4);
  text = scrape(port);
  CHECK(metric_sample(text, R"(cairn_share_group_members{group="workers"})") == 1);
  CHECK(metric_sample(text, R"(cairn_share_dead_lettered_total{group="workers"})") == 0);
  // The 4 come from one partition (of 5 records), none done yet.
  double acquired = 0;
  for (int p = 0; p < 2; ++p) {
    std::string labels = fmt::format(R"({{group="workers",topic="orders",partition="{}"}})", p);
    double held_here = metric_sample(text, "cairn_share_records_acquired" + labels);
    if (held_here <= 0) continue;
    acquired += held_here;
    CHECK(metric_sample(text, "cairn_share_lag_offsets" + labels) == 5);
    CHECK(metric_sample(text, "cairn_share_records_awaiting_redelivery" + labels) == 0);
  }
  CHECK(acquired == 4);

  // A deleted topic takes its series with it.
  REQUIRE(cluster.admin->delete_topic("orders").ok());
  text = scrape(port);
  CHECK_THAT(text, !Catch::Contains(R"(topic="orders")"));
}

TEST_CASE("TheBrokerCountsItsOpenConnections", "[integration][metrics]") {
  int port = pick_free_port();
  SingleBroker cluster({"--metrics-listen", fmt::format("127.0.0.1:{}", port)});
  auto connections = [&] { return metric_sample(scrape(port), "cairn_connections_open"); };
  auto eventually = [&](double count) {
    for (int i = 0; i < 100 && connections() != count; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return connections();
  };
  // The start-up probes' connections close; the fixture's admin client has
  // not connected (channels connect on their first call).
  REQUIRE(eventually(0) == 0);
  {
    // Channels of their own (no subchannel shared between them): a
    // connection each.
    std::vector<std::shared_ptr<grpc::Channel>> channels;
    for (int i = 0; i < 4; ++i) {
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      channels.push_back(grpc::CreateCustomChannel(cluster.broker.address(), grpc::InsecureChannelCredentials(), args));
      REQUIRE(channels.back()->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(5)));
    }
    CHECK(eventually(4) == 4);
  }
  // Closed by the clients: the broker counts them out.
  CHECK(eventually(0) == 0);
}

TEST_CASE("AMetricsPortInUseIsRefusedAtStartUp", "[integration][metrics]") {
  SingleBroker any_port({"--metrics-listen", "127.0.0.1:0"});  // port 0: a free one
  int port = pick_free_port();
  TempFolder folder;
  BrokerProcess holder(folder.path() + "/holder", {"--metrics-listen", fmt::format("127.0.0.1:{}", port)});
  REQUIRE(holder.start().ok());
  BrokerProcess second(folder.path() + "/second", {"--metrics-listen", fmt::format("127.0.0.1:{}", port)});
  Status started = second.start();
  CHECK_FALSE(started.ok());
  std::ifstream log(second.log_path());
  std::string text((std::istreambuf_iterator<char>(log)), {});
  CHECK_THAT(text, Catch::Contains(fmt::format("cannot serve metrics: cannot listen on 127.0.0.1:{}: Address already "
                                               "in use; another program (another cairnd?) uses that port: stop it "
                                               "or pass another --metrics-listen port",
                                               port)));
}

TEST_CASE("AClusterBrokerReportsRaftAndControllerState", "[integration][metrics][cluster]") {
  LocalCluster cluster({"--metrics-listen", "127.0.0.1:0"});
  cluster.create_topic("events", 1, 3);
  cluster.wait_for_leaders("events");
  auto producer = cluster.producer();
  for (int i = 0; i < 20; ++i) REQUIRE(producer->send({.topic = "events", .value = std::to_string(i)}).get().ok());

  // Leadership may move back to the preferred replica a few seconds in, so each try asks who leads.
  const std::string labels = R"(topic="events",partition="0")";
  std::string text;
  bool leader_reports = eventually(
      [&] {
        int32_t leader = cluster.wait_for_leaders("events")[0];
        text = scrape(metrics_port_of(cluster.broker(leader)));
        return metric_sample(text, "cairn_partition_raft_term{" + labels + "}") >= 1 &&
               metric_sample(text, "cairn_partition_leader_changes_total{" + labels + "}") >= 1 &&
               metric_sample(text, "cairn_partition_leader{" + labels + "}") == leader &&
               metric_sample(text, "cairn_partition_raft_role{" + labels + ",role=\"leader\"}") == 1;
      },
      std::chrono::seconds(30));
  INFO(text);
  CHECK(leader_reports);
  CHECK(metric_sample(text, "cairn_partition_repairing{" + labels + "}") == 0);  // no damage here
  CHECK(metric_sample(text, "cairn_partition_damage_repairs_total{" + labels + "}") == 0);
  // Each follower holds everything soon after the writes.
  bool caught_up = eventually(
      [&] {
        int32_t leader = cluster.wait_for_leaders("events")[0];
        text = scrape(metrics_port_of(cluster.broker(leader)));
        for (int32_t follower = 1; follower <= 3; ++follower) {
          if (follower == leader) continue;
          auto series = fmt::format("cairn_partition_follower_lag_offsets{{{},follower=\"{}\"}}", labels, follower);
          if (metric_sample(text, series) != 0) return false;
        }
        return true;
      },
      std::chrono::seconds(30));
  CHECK(caught_up);

  // Every broker names the same controller leader. It may move once soon after start (leadership
  // goes back to the preferred replica a few seconds in), so each try reads all three afresh.
  std::vector<std::string> broker_texts(3);
  bool agreed = eventually(
      [&] {
        for (int32_t id = 1; id <= 3; ++id) broker_texts[id - 1] = scrape(metrics_port_of(cluster.broker(id)));
        double controller = metric_sample(broker_texts[0], "cairn_controller_leader");
        for (const auto& broker_text : broker_texts) {
          if (controller < 1 || metric_sample(broker_text, "cairn_controller_leader") != controller ||
              metric_sample(broker_text, "cairn_controller_metadata_applied_offset") <= 0) {
            return false;
          }
        }
        return true;
      },
      std::chrono::seconds(30));
  INFO(broker_texts[0]);
  CHECK(agreed);
  // The controller leader tells live brokers once it has led a few seconds.
  std::string controller_text;
  bool all_live = eventually(
      [&] {
        controller_text = scrape(metrics_port_of(cluster.broker(cluster.wait_for_controller())));
        return metric_sample(controller_text, "cairn_controller_live_brokers") == 3;
      },
      std::chrono::seconds(30));
  INFO(controller_text);
  CHECK(all_live);
}
