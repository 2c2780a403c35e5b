// A cluster of three real cairnd processes: topics replicated by Raft,
// brokers killed under load.

#include <atomic>
#include <fstream>
#include <thread>

#include "three_brokers.h"

using namespace cairn;
using namespace cairn::testing;

namespace {

// What producers were told: partition -> offset -> value. Filled from
// producer callbacks; a second value at one offset is recorded as a failure.
class Acknowledged {
 public:
  explicit Acknowledged(OffThreadFailures& failures) : failures_(failures) {}

  void add(const Result<RecordMetadata>& sent, const std::string& value) {
    if (!failures_.expect_ok(sent.status(), "send of " + value)) return;
    std::lock_guard lock(mutex_);
    auto [it, inserted] = by_partition_[sent->partition].emplace(sent->offset.value, value);
    if (!inserted && it->second != value) {
      failures_.add(fmt::format("partition {} offset {} acknowledged twice: {} and {}",
                                sent->partition, sent->offset.value, it->second, value));
    }
  }

  std::map<int32_t, std::map<int64_t, std::string>> snapshot() const {
    std::lock_guard lock(mutex_);
    return by_partition_;
  }

 private:
  OffThreadFailures& failures_;
  mutable std::mutex mutex_;
  std::map<int32_t, std::map<int64_t, std::string>> by_partition_;
};

// Sends unique values round-robin to `partitions` partitions until stopped,
// a few at a time, waiting for each round's acknowledgements.
void produce_until(Producer& producer, const std::string& topic, int32_t partitions,
                   const std::atomic<bool>& stop, Acknowledged& acked) {
  for (int64_t round = 0; !stop; ++round) {
    for (int32_t p = 0; p < partitions; ++p) {
      for (int i = 0; i < 5; ++i) {
        std::string value = fmt::format("r{}-p{}-{}", round, p, i);
        producer.send({topic, p, std::nullopt, value, {}, 0},
                      [&acked, value](const Result<RecordMetadata>& sent) { acked.add(sent, value); });
      }
    }
    producer.flush();
  }
}

// Every acknowledged record is at its offset on every running broker's replica.
void check_every_replica(ThreeBrokers& cluster, const std::string& topic,
                         const std::map<int32_t, std::map<int64_t, std::string>>& acked) {
  for (auto& broker : cluster.brokers) {
    if (!broker->running()) continue;
    for (const auto& [partition, records] : acked) {
      if (records.empty()) continue;
      auto replica = ThreeBrokers::read_replica(*broker, topic, partition, records.rbegin()->first + 1);
      size_t missing = 0;
      for (const auto& [offset, value] : records) {
        auto found = replica.find(offset);
        if (found == replica.end() || found->second != value) {
          if (missing++ < 5) {
            UNSCOPED_INFO(fmt::format("{} {}/{} offset {}: acknowledged {}, holds {}", broker->address(),
                                      topic, partition, offset, value,
                                      found == replica.end() ? "nothing" : found->second));
          }
        }
      }
      CHECK(missing == 0);
    }
  }
}

}  // namespace

TEST_CASE("ReplicatedTopicKeepsEveryAcknowledgedRecordWhileLeadersAreKilled", "[integration][cluster]") {
  ThreeBrokers cluster;
  cluster.create_topic("events", 6, 3);
  cluster.wait_for_leaders("events");
  auto producer = cluster.producer();
  OffThreadFailures failures;
  Acknowledged acked(failures);
  std::atomic<bool> stop{false};
  std::thread writer([&] { produce_until(*producer, "events", 6, stop, acked); });

  // Kill a partition's leader mid-stream, again and again: each time a
  // different partition's, and once two brokers in turn.
  for (int round = 0; round < 4; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    int32_t victim = cluster.wait_for_leaders("events")[static_cast<size_t>(round)];
    cluster.broker(victim).kill();
    std::this_thread::sleep_for(std::chrono::milliseconds(2000));
    if (round == 2) {  // a second broker down while the first still is: no majority for a while
      int32_t second = victim % 3 + 1;
      cluster.broker(second).kill();
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      REQUIRE(cluster.broker(second).start().ok());
    }
    REQUIRE(cluster.broker(victim).start().ok());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  stop = true;
  writer.join();
  CHECK_NO_OFF_THREAD_FAILURES(failures);

  auto records = acked.snapshot();
  size_t total = 0;
  for (const auto& [partition, by_offset] : records) total += by_offset.size();
  INFO(total << " records acknowledged");
  REQUIRE(total > 500);
  cluster.wait_for_leaders("events");
  check_every_replica(cluster, "events", records);
}

TEST_CASE("ClusterRefusesBadConfigurationWithAMessage", "[integration][cluster]") {
  ThreeBrokers cluster;
  SECTION("a replication factor above the brokers there are") {
    Status refused = cluster.admin->create_topic({"too-many", 1, 4, {}});
    CHECK(refused.code() == ErrorCode::invalid_request);
    CHECK_THAT(refused.message(), Catch::Contains("the cluster has 3"));
  }
  SECTION("a broker restarted with another node's data folder") {
    cluster.broker(2).stop();
    BrokerProcess impostor(cluster.broker(2).data_dir(),
                           {"--node-id", "3", "--controller-voters", cluster.voters},
                           std::stoi(cluster.broker(2).address().substr(10)));
    CHECK_FALSE(impostor.start().ok());
  }
  SECTION("a broker given a voters list the others do not share") {
    int port = pick_free_port();
    BrokerProcess stranger(cluster.folder.path() + "/stranger",
                           {"--node-id", "4", "--controller-voters",
                            cluster.voters + fmt::format(",4@127.0.0.1:{}", port)},
                           port);
    REQUIRE(stranger.start().ok());
    // The others refuse its frames: it can never win a vote or lead.
    CHECK(eventually(
        [&] {
          std::ifstream log(cluster.broker(1).log_path());
          std::string text((std::istreambuf_iterator<char>(log)), {});
          return text.find("every broker of a cluster must be given the same list") != std::string::npos;
        },
        std::chrono::seconds(10)));
  }
}
