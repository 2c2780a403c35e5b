#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <map>
#include <set>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cairn/client_options.h"
#include "cairn/v1/admin.grpc.pb.h"
#include "cairn/v1/broker.grpc.pb.h"
#include "cairn/v1/groups.grpc.pb.h"
#include "cairn/v1/queues.grpc.pb.h"
#include "proto/group_placement.h"
#include "proto/status.h"
#include "proto/topic_partition.h"
#include "retry_backoff.h"

namespace cairn::client {

// A channel to one broker with its stubs. Channels reconnect by themselves.
struct BrokerConnection {
  std::string address;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Broker::Stub> broker;
  std::unique_ptr<v1::Admin::Stub> admin;
  std::unique_ptr<v1::Groups::Stub> groups;
  std::unique_ptr<v1::Queues::Stub> queues;
};

// The client's view of the cluster: connections and cached metadata (which
// broker leads each partition). Bootstraps from any listed broker; refreshed
// on demand and whenever a broker says not_leader or an unknown partition.
// After a refresh that no broker answered, the next ones fail at once with
// the same error until a backoff (ClientOptions::retry_backoff_ms) passed,
// so callers retrying in a loop do not flood a broker that is down.
// Thread-safe.
class Cluster {
 public:
  // Whether asking for a topic that does not exist creates it, where the
  // brokers run with --auto-create-topics: producers do, as Kafka's do.
  enum class TopicCreation { never, on_first_use };
  explicit Cluster(ClientOptions options, TopicCreation creation = TopicCreation::never);

  const ClientOptions& options() const { return options_; }

  // A connection to some broker that answered lately (bootstrap otherwise),
  // not one avoided now unless all are.
  Result<std::shared_ptr<BrokerConnection>> any_broker();
  // A request to `address` went unanswered (down, or hung: it timed out):
  // for a request timeout (at least 1 s), doubled for each failure in a row
  // up to 16 times, any_broker() and refresh() try the other brokers first,
  // so one hung broker does not cost every call its whole timeout.
  void avoid(const std::string& address);
  // A request to `address` was answered: it is no longer avoided.
  void answered(const std::string& address);
  // The leader of a partition, refreshing metadata if it is not known.
  Result<std::shared_ptr<BrokerConnection>> leader(const TopicPartition& tp);
  // A group's coordinator: the leader of its partition of `state_topic`
  // (__consumer_offsets for consumer groups, __share_group_state for share
  // groups; proto/group_placement.h). After a not_leader answer from it,
  // call invalidate(state_topic) and ask again.
  Result<std::shared_ptr<BrokerConnection>> coordinator(const std::string& group,
                                                        const std::string& state_topic = kOffsetsTopic);
  // Every broker metadata named, for requests each answers for its own part
  // (listing groups).
  std::vector<std::shared_ptr<BrokerConnection>> all_brokers();
  // The partition count of a topic (unknown_topic_or_partition if none);
  // a count known before stays usable while its leaders are refreshed. A
  // topic a broker is having created on its first use (in a cluster) is
  // waited for, up to the request timeout.
  Result<int32_t> partition_count(const std::string& topic);
  // Fetches metadata for these topics (all when empty) from any broker.
  Status refresh(const std::vector<std::string>& topics = {});
  // Marks a topic's leaders stale, so the next leader lookup refreshes them.
  void invalidate(const std::string& topic);
  // The largest request this client may send to any broker: the smallest
  // limit a broker advertised in metadata, and ClientOptions::max_message_bytes.
  size_t max_request_bytes() const;

  // A context with the request deadline set, or `not_after` if sooner.
  std::unique_ptr<grpc::ClientContext> context(
      std::chrono::steady_clock::time_point not_after = std::chrono::steady_clock::time_point::max()) const;

 private:
  std::shared_ptr<BrokerConnection> connection_locked(const std::string& address);
  void avoid_locked(const std::string& address);
  // Every broker address known, once each: the last to answer first, those
  // avoided now last.
  std::vector<std::string> candidates_locked() const;

  const ClientOptions options_;
  const TopicCreation creation_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<BrokerConnection>> connections_;  // by address
  std::map<int32_t, std::string> broker_addresses_;                        // by broker id
  std::map<int32_t, int64_t> request_limits_;  // by broker id, as advertised
  struct TopicMetadata {
    std::vector<int32_t> leaders;  // broker id per partition
    bool stale = false;            // refresh before trusting a leader
  };
  std::map<std::string, TopicMetadata> topics_;
  std::set<std::string> being_created_;  // missing, but a broker asked its controller to create them
  std::string last_good_;
  struct Avoided {
    std::chrono::steady_clock::time_point until;
    int failures = 0;  // in a row
  };
  std::map<std::string, Avoided> avoided_;  // by address
  Backoff refresh_backoff_;  // after refreshes no broker answered
  Status refresh_failure_;   // the last of them
};

// The least ClientOptions::max_message_bytes may be (a broker's
// --max-request-bytes is at least as much).
constexpr int32_t kMinMaxMessageBytes = 1024;

// What every client needs of its options (brokers, sane backoff bounds).
Status check_client_options(const ClientOptions& options);

// The broker did not answer (unreachable, or timed out): worth asking another.
bool unanswered(const Status& status);

// "host:port" of a broker as metadata describes it.
std::string address_of(const v1::BrokerInfo& broker);

}  // namespace cairn::client
