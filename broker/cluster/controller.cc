#include "broker/cluster/controller.h"

#include <spdlog/spdlog.h>

#include <fmt/ranges.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <algorithm>
#include <future>
#include <utility>

#include "broker/partition_records.h"
#include "broker/read_waiters.h"
#include "proto/assert.h"
#include "proto/byte_io.h"
#include "proto/rpc_error.h"
#include "proto/thread_name.h"
#include "storage/clock.h"

namespace cairn::broker {
namespace {

// Replicated partitions cannot be compacted yet (Partition::serve_replicated):
// refused before the change is committed, not when each broker applies it.
Status refuse_compaction(const std::map<std::string, std::string>& configs) {
  auto policy = configs.find("cleanup.policy");
  if (policy == configs.end() || policy->second.find("compact") == std::string::npos) return {};
  return error(ErrorCode::invalid_config,
               "cleanup.policy={}: compacted topics cannot be replicated yet; use cleanup.policy=delete",
               policy->second);
}

}  // namespace

// Wakes the applier when the metadata log's high watermark moves. Shared
// with the partition's waiters, which may wake it after the controller is
// gone: it owns the mutex and condition variable it signals. Notifying
// under the mutex, after the high watermark moved, means a waiter that
// checked the watermark under it cannot miss the wake.
class Controller::Wakeup final : public ReadWaiter {
 public:
  void wake() override {
    std::lock_guard lock(mutex);
    changed.notify_all();
  }
  std::mutex mutex;
  std::condition_variable changed;
};

Controller::Controller(Options options, TopicManager& topics)
    : options_(std::move(options)), topics_(topics), wakeup_(std::make_shared<Wakeup>()) {}

Result<std::unique_ptr<Controller>> Controller::start(Options options, storage::Store& store,
                                                      ReplicaHost& host, TopicManager& topics) {
  std::unique_ptr<Controller> controller(new Controller(std::move(options), topics));
  // Kept whole but for what snapshots drop (snapshot_if_due), in small
  // segments so that dropped records leave the disk.
  storage::LogConfig config;
  config.retention_ms = -1;
  config.segment_bytes = 4 << 20;
  TopicPartition tp{kMetadataTopic, 0};
  auto log = store.open_partition(tp, config);
  if (!log.ok()) return log.status();
  std::weak_ptr<storage::PartitionLog> served = *log;
  auto partition = host.serve(tp, std::move(*log), controller->options_.voters.ids(), 0);
  if (!partition.ok()) return partition.status();
  store.verify_soon(served);
  controller->partition_ = std::move(*partition);
  controller->applier_ = std::thread([c = controller.get()] {
    name_this_thread("cairn-metadata");
    c->run();
  });
  controller->maintainer_ = std::thread([c = controller.get()] {
    name_this_thread("cairn-ctl-maint");
    c->maintain();
  });
  return controller;
}

Controller::~Controller() { stop(); }

void Controller::stop() {
  {
    std::lock_guard lock(wakeup_->mutex);
    if (stopping_) return;
    stopping_ = true;
  }
  wakeup_->changed.notify_all();
  if (applier_.joinable()) applier_.join();
  if (maintainer_.joinable()) maintainer_.join();
  if (partition_) partition_->replica()->stop();
}

std::optional<int32_t> Controller::leader() const { return partition_->replica()->leader(); }

Offset Controller::applied() const {
  std::lock_guard lock(wakeup_->mutex);
  return applied_;
}

Status Controller::check_leader() const {
  auto leader = this->leader();
  if (leader == options_.self) {
    if (partition_->replica()->is_ready_leader()) return {};
    // Until an entry of its term commits, its high watermark may miss what
    // the previous controller committed: checks against it could be wrong.
    return error(ErrorCode::not_leader,
                 "broker {} was just elected controller and is catching up; retry shortly",
                 options_.self);
  }
  if (!leader) {
    return error(ErrorCode::not_leader,
                 "no controller is elected yet: a majority of the brokers in --controller-voters "
                 "{} must be up; retry shortly",
                 options_.voters.canonical());
  }
  const PeerBroker* broker = options_.voters.find(*leader);
  return error(ErrorCode::not_leader, "broker {} is not the controller; broker {} at {} is",
               options_.self, *leader, broker ? broker->address : "an unknown address");
}

Status Controller::create_topic(const v1::TopicSpec& spec) {
  std::lock_guard changes(changes_mutex_);
  Deadline deadline = std::chrono::steady_clock::now() + options_.change_timeout;
  CAIRN_RETURN_IF_ERROR(begin_change(deadline));
  std::map<std::string, std::string> configs(spec.configs().begin(), spec.configs().end());
  CAIRN_RETURN_IF_ERROR(refuse_compaction(configs));
  auto brokers = active_brokers();
  int32_t partitions = spec.partitions() > 0 ? spec.partitions() : options_.default_partitions;
  // The default counts brokers down too: a topic created while one is down
  // is refused rather than silently given fewer replicas.
  auto members = static_cast<int32_t>(options_.voters.ids().size() - topics_.decommissioned_brokers().size());
  int32_t factor = spec.replication_factor() > 0 ? spec.replication_factor() : std::min<int32_t>(3, members);
  if (partitions > TopicManager::kMaxPartitions) {
    return error(ErrorCode::invalid_request, "a topic needs 1 to {} partitions, not {}",
                 TopicManager::kMaxPartitions, partitions);
  }
  CAIRN_RETURN_IF_ERROR(check_factor(factor, brokers));
  auto assignment = assign_replicas(brokers, partitions, factor,
                                    static_cast<uint32_t>(std::hash<std::string>{}(spec.name())));
  if (!assignment.ok()) return assignment.status();
  CAIRN_RETURN_IF_ERROR(topics_.check_new({spec.name(), partitions, configs, *assignment, 0, {}, {}}));

  v1::ClusterRecord record;
  auto* created = record.mutable_topic_created();
  created->set_name(spec.name());
  created->mutable_configs()->insert(spec.configs().begin(), spec.configs().end());
  for (const auto& replicas : *assignment) {
    created->add_assignments()->mutable_brokers()->Add(replicas.begin(), replicas.end());
  }
  CAIRN_RETURN_IF_ERROR(submit({record}, deadline));
  if (!topics_.topic(spec.name())) {
    return error(ErrorCode::unknown,
                 "topic '{}' is created in the cluster, but the controller's broker could not "
                 "open it; see that broker's log",
                 spec.name());
  }
  return {};
}

Status Controller::delete_topic(const std::string& name) {
  std::lock_guard changes(changes_mutex_);
  Deadline deadline = std::chrono::steady_clock::now() + options_.change_timeout;
  CAIRN_RETURN_IF_ERROR(begin_change(deadline));
  if (!topics_.topic(name)) {
    return error(ErrorCode::unknown_topic_or_partition, "topic '{}' does not exist", name);
  }
  v1::ClusterRecord record;
  record.mutable_topic_deleted()->set_name(name);
  return submit({record}, deadline);
}

Status Controller::alter_topic(const std::string& name, const std::map<std::string, std::string>& set) {
  std::lock_guard changes(changes_mutex_);
  Deadline deadline = std::chrono::steady_clock::now() + options_.change_timeout;
  CAIRN_RETURN_IF_ERROR(begin_change(deadline));
  CAIRN_RETURN_IF_ERROR(refuse_compaction(set));
  CAIRN_RETURN_IF_ERROR(topics_.check_alter(name, set));
  v1::ClusterRecord record;
  auto* altered = record.mutable_topic_configs_altered();
  altered->set_name(name);
  altered->mutable_set()->insert(set.begin(), set.end());
  return submit({record}, deadline);
}

Status Controller::begin_change(Deadline deadline) {
  CAIRN_RETURN_IF_ERROR(check_leader());
  return catch_up(deadline);
}

std::optional<std::set<int32_t>> Controller::live_brokers() const {
  if (leader() != options_.self) return std::nullopt;
  auto live = partition_->replica()->live_replicas();
  if (!live) return std::nullopt;
  return std::set<int32_t>(live->begin(), live->end());
}

std::vector<int32_t> Controller::active_brokers() const {
  auto decommissioned = topics_.decommissioned_brokers();
  auto live = live_brokers();
  std::vector<int32_t> out;
  for (int32_t id : options_.voters.ids()) {
    if (!decommissioned.count(id) && (!live || live->count(id))) out.push_back(id);
  }
  return out;
}

Status Controller::check_factor(int32_t factor, const std::vector<int32_t>& active) const {
  if (factor <= static_cast<int32_t>(active.size())) return {};
  if (active.size() == options_.voters.ids().size()) {
    return error(ErrorCode::invalid_request,
                 "replication factor {} needs {} brokers, and the cluster has {}; use a factor "
                 "from 1 to {}",
                 factor, factor, active.size(), active.size());
  }
  std::vector<std::string> missing;
  auto decommissioned = topics_.decommissioned_brokers();
  for (int32_t id : options_.voters.ids()) {
    if (std::find(active.begin(), active.end(), id) != active.end()) continue;
    missing.push_back(fmt::format("{} ({})", id, decommissioned.count(id) ? "decommissioned"
                                                                          : "not heard from for 5 s"));
  }
  return error(ErrorCode::invalid_request,
               "replication factor {} needs {} brokers that can take replicas; {} can now (not "
               "broker {}): start the brokers that are down, or use a factor from 1 to {}",
               factor, factor, active.size(), fmt::join(missing, ", "), active.size());
}

Result<std::vector<PartitionPlacement>> Controller::placement_unless_moving() const {
  std::vector<PartitionPlacement> out;
  for (const auto& topic : topics_.topics()) {
    if (topic.replicas.empty()) continue;
    for (int32_t p = 0; p < static_cast<int32_t>(topic.replicas.size()); ++p) {
      if (!topic.target_of(p).empty()) {
        return error(ErrorCode::invalid_request,
                     "{}/{} is still moving (to brokers {}): one move at a time; `cairn topic "
                     "describe {}` shows when it is done",
                     topic.name, p, fmt::join(topic.target_of(p), ","), topic.name);
      }
      out.push_back({topic.name, p, topic.replicas_of(p, -1)});
    }
  }
  return out;
}

Result<std::vector<PartitionMovePlan>> Controller::start_moves(std::vector<v1::ClusterRecord> records,
                                                               std::vector<PartitionMovePlan> moves,
                                                               Deadline deadline) {
  for (const auto& move : moves) {
    auto topic = topics_.topic(move.from.topic);
    CAIRN_ASSERT(topic.has_value());  // changes_mutex_ held: nothing removed it
    auto* started = records.emplace_back().mutable_partition_move_started();
    started->set_topic(move.from.topic);
    started->set_topic_id(topic->topic_id);
    started->set_partition(move.from.partition);
    started->mutable_target()->Add(move.to.begin(), move.to.end());
  }
  spdlog::info("controller: starting {} partition move(s)", moves.size());
  CAIRN_RETURN_IF_ERROR(submit(records, deadline));
  return moves;
}

Status Controller::check_liveness_known() const {
  if (live_brokers()) return {};
  // Moves planned onto a broker that is down would never finish.
  return error(ErrorCode::not_leader,
               "broker {} was elected controller less than 5 s ago and does not know yet which "
               "brokers are live; retry shortly",
               options_.self);
}

Result<std::vector<PartitionMovePlan>> Controller::decommission(int32_t broker) {
  std::lock_guard changes(changes_mutex_);
  Deadline deadline = std::chrono::steady_clock::now() + options_.change_timeout;
  CAIRN_RETURN_IF_ERROR(begin_change(deadline));
  CAIRN_RETURN_IF_ERROR(check_liveness_known());
  if (!options_.voters.find(broker)) {
    return error(ErrorCode::invalid_request, "broker {} is not in the cluster (brokers {})", broker,
                 options_.voters.canonical());
  }
  auto placement = placement_unless_moving();
  if (!placement.ok()) return placement.status();
  std::vector<int32_t> others;
  for (int32_t id : active_brokers()) {
    if (id != broker) others.push_back(id);
  }
  auto moves = plan_decommission(*placement, broker, others);
  if (!moves.ok()) return moves.status();
  v1::ClusterRecord decommissioned;
  decommissioned.mutable_broker_decommissioned()->set_broker(broker);
  decommissioned.mutable_broker_decommissioned()->set_decommissioned(true);
  return start_moves({decommissioned}, std::move(*moves), deadline);
}

Result<std::vector<PartitionMovePlan>> Controller::add_broker(int32_t broker) {
  std::lock_guard changes(changes_mutex_);
  Deadline deadline = std::chrono::steady_clock::now() + options_.change_timeout;
  CAIRN_RETURN_IF_ERROR(begin_change(deadline));
  if (!options_.voters.find(broker)) {
    return error(ErrorCode::invalid_request,
                 "broker {} is not in the cluster (brokers {}); a broker joins with its id in "
                 "every broker's --controller-voters",
                 broker, options_.voters.canonical());
  }
  CAIRN_RETURN_IF_ERROR(check_liveness_known());
  auto live = live_brokers();
  if (live && !live->count(broker)) {
    return error(ErrorCode::invalid_request,
                 "broker {} has not been heard from for 5 s: start it, then add it", broker);
  }
  auto placement = placement_unless_moving();
  if (!placement.ok()) return placement.status();
  std::vector<int32_t> brokers = active_brokers();
  if (std::find(brokers.begin(), brokers.end(), broker) == brokers.end()) brokers.push_back(broker);
  v1::ClusterRecord added;
  added.mutable_broker_decommissioned()->set_broker(broker);
  added.mutable_broker_decommissioned()->set_decommissioned(false);
  return start_moves({added}, plan_add(*placement, broker, brokers), deadline);
}

Result<std::vector<PartitionMovePlan>> Controller::cancel_moves() {
  std::lock_guard changes(changes_mutex_);
  Deadline deadline = std::chrono::steady_clock::now() + options_.change_timeout;
  CAIRN_RETURN_IF_ERROR(begin_change(deadline));
  std::vector<PartitionMovePlan> moves;
  for (const auto& topic : topics_.topics()) {
    for (int32_t p = 0; p < static_cast<int32_t>(topic.targets.size()); ++p) {
      auto target = topic.target_of(p);
      if (target.empty()) continue;
      moves.push_back({{topic.name, p, std::move(target)}, topic.replicas_of(p, -1)});
    }
  }
  if (moves.empty()) return moves;
  return start_moves({}, std::move(moves), deadline);
}

Status Controller::finish_move(const std::string& topic, int64_t topic_id, int32_t partition,
                               int64_t move_id) {
  std::lock_guard changes(changes_mutex_);
  Deadline deadline = std::chrono::steady_clock::now() + options_.change_timeout;
  CAIRN_RETURN_IF_ERROR(begin_change(deadline));
  auto current = topics_.replicated_topic(topic, topic_id, partition);
  if (!current.ok()) return current.status();
  // Finished already, or a late report of an earlier move of the partition.
  if (current->target_of(partition).empty() || current->move_id_of(partition) != move_id) return {};
  v1::ClusterRecord record;
  auto* finished = record.mutable_partition_move_finished();
  finished->set_topic(topic);
  finished->set_topic_id(topic_id);
  finished->set_partition(partition);
  finished->set_move_id(move_id);
  return submit({record}, deadline);
}

v1::Admin::Stub& Controller::stub_for(const PeerBroker& broker) {
  std::lock_guard lock(stubs_mutex_);
  auto& stub = stubs_[broker.address];
  if (!stub) {
    stub = v1::Admin::NewStub(grpc::CreateChannel(broker.address, grpc::InsecureChannelCredentials()));
  }
  return *stub;
}

std::optional<std::pair<int32_t, v1::Admin::Stub*>> Controller::remote_leader() {
  auto leader = this->leader();
  if (!leader || *leader == options_.self) return std::nullopt;
  const PeerBroker* broker = options_.voters.find(*leader);
  if (!broker) return std::nullopt;
  return std::make_pair(*leader, &stub_for(*broker));
}

Result<TopicRegistry> Controller::image() const {
  std::lock_guard lock(wakeup_->mutex);
  if (installing_ || applied_ < partition_->log_start()) {
    return error(ErrorCode::broker_unavailable,
                 "broker {} is catching up with the cluster metadata itself", options_.self);
  }
  // Under the mutex: no install starts meanwhile.
  return topics_.image();
}

Result<Offset> Controller::install_peer_image() {
  Offset start = partition_->log_start();
  // The leader first: it has applied the most.
  std::vector<int32_t> peers;
  if (auto leader = this->leader(); leader && *leader != options_.self) peers.push_back(*leader);
  for (int32_t id : options_.voters.ids()) {
    if (id != options_.self && std::find(peers.begin(), peers.end(), id) == peers.end()) peers.push_back(id);
  }
  std::vector<std::string> why;
  for (int32_t id : peers) {
    if (stopping()) break;
    v1::GetMetadataImageResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc::Status sent = stub_for(*options_.voters.find(id)).GetMetadataImage(&context, {}, &response);
    if (!sent.ok() || response.has_error()) {
      why.push_back(fmt::format("broker {}: {}", id,
                                sent.ok() ? from_proto(response.error()).to_string() : sent.error_message()));
      continue;
    }
    auto image = decode_topics(response.image());
    if (!image.ok()) {
      why.push_back(fmt::format("broker {}: {}", id, image.status().to_string()));
      continue;
    }
    if (image->metadata_applied < start.value) {
      why.push_back(fmt::format("broker {} has applied only up to {}", id, image->metadata_applied));
      continue;
    }
    CAIRN_RETURN_IF_ERROR(topics_.install_image(*image));
    spdlog::info("controller: installed the cluster metadata image at offset {} from broker {}",
                 image->metadata_applied, id);
    return Offset(image->metadata_applied);
  }
  return error(ErrorCode::broker_unavailable,
               "the metadata log here starts at {}, past the {} this broker applied, and no peer "
               "has an image that reaches it ({})",
               start, topics_.metadata_applied(), fmt::join(why, "; "));
}

void Controller::snapshot_if_due(Offset saved) {
  int64_t keep = options_.snapshot_records;
  if (saved.value - partition_->log_start().value < 2 * keep) return;
  if (Status advanced = partition_->advance_start(Offset(saved.value - keep)); !advanced.ok()) {
    spdlog::warn("controller: cannot drop the metadata records its image holds: {}", advanced.to_string());
    return;
  }
  spdlog::info("controller: the metadata log now starts at offset {}; this broker's image (offset {}) "
               "holds what came before",
               partition_->log_start(), saved);
}

void Controller::report_finished_moves() {
  for (const auto& topic : topics_.topics()) {
    for (int32_t p = 0; p < static_cast<int32_t>(topic.targets.size()); ++p) {
      if (stopping()) return;
      const auto& partition = topic.partitions[static_cast<size_t>(p)];
      if (topic.target_of(p).empty() || !partition || !partition->replica()->reached_target()) continue;
      Status finished;
      if (auto remote = remote_leader()) {
        v1::FinishPartitionMoveRequest request;
        request.set_topic(topic.name);
        request.set_topic_id(topic.topic_id);
        request.set_partition(p);
        request.set_move_id(topic.move_id_of(p));
        v1::FinishPartitionMoveResponse response;
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
        grpc::Status sent = remote->second->FinishPartitionMove(&context, request, &response);
        finished = sent.ok() ? from_proto(response.error())
                             : error(ErrorCode::broker_unavailable, "controller {} did not answer: {}",
                                     remote->first, sent.error_message());
      } else {
        finished = finish_move(topic.name, topic.topic_id, p, topic.move_id_of(p));
      }
      if (!finished.ok()) {
        spdlog::warn("{}/{}: reporting its move finished: {}; retrying", topic.name, p, finished.to_string());
      }
    }
  }
}

bool Controller::stopping() const {
  std::lock_guard lock(wakeup_->mutex);
  return stopping_;
}

Status Controller::catch_up(Deadline deadline) {
  return wait_applied(partition_->high_watermark(), deadline);
}

Status Controller::submit(const std::vector<v1::ClusterRecord>& records, Deadline deadline) {
  RecordBatchBuilder builder;
  int64_t now = storage::Clock::system().now_ms();
  for (const auto& record : records) builder.add(std::nullopt, record.SerializeAsString(), {}, now);
  auto batch = builder.build();
  if (!batch.ok()) return batch.status();
  auto appended = partition_->append(as_bytes(*batch));
  if (!appended.ok()) return appended.status();
  // Shared with the callback, which may run after a timed-out wait returned.
  auto committed = std::make_shared<std::promise<Status>>();
  auto outcome = committed->get_future();
  partition_->when_committed(*appended, [committed](Status s) { committed->set_value(std::move(s)); });
  if (outcome.wait_until(deadline) != std::future_status::ready) {
    return error(ErrorCode::request_timed_out,
                 "the change was not committed within {} ms (a majority of the controller voters "
                 "may be down); it may still take effect",
                 options_.change_timeout.count());
  }
  CAIRN_RETURN_IF_ERROR(outcome.get());
  return wait_applied(appended->last_offset + 1, deadline);
}

Status Controller::wait_applied(Offset offset, Deadline deadline) {
  std::unique_lock lock(wakeup_->mutex);
  bool reached = wakeup_->changed.wait_until(lock, deadline,
                                           [&] { return applied_ >= offset || stopping_; });
  if (stopping_) return error(ErrorCode::shutting_down, "the broker is shutting down");
  if (!reached) {
    return error(ErrorCode::request_timed_out,
                 "the cluster metadata up to offset {} was not applied within {} ms", offset,
                 options_.change_timeout.count());
  }
  return {};
}

void Controller::run() {
  std::unique_lock lock(wakeup_->mutex);
  applied_ = topics_.metadata_applied();
  Offset saved = applied_;  // what the image file holds
  std::string last_warning;  // said once, not every second while it lasts
  while (!stopping_) {
    Offset from = applied_;
    if (from < partition_->log_start()) {
      installing_ = true;
      lock.unlock();
      auto installed = install_peer_image();
      lock.lock();
      installing_ = false;
      if (installed.ok()) {
        applied_ = saved = *installed;
        wakeup_->changed.notify_all();
      } else {
        if (installed.status().to_string() != std::exchange(last_warning, installed.status().to_string())) {
          spdlog::warn("controller: {}; retrying every second", installed.status().to_string());
        }
        wakeup_->changed.wait_for(lock, std::chrono::seconds(1));
      }
      continue;
    }
    if (partition_->high_watermark() <= from) {
      partition_->waiters().add(wakeup_);
      // Re-checked after registering, so a commit in between is not slept through.
      if (partition_->high_watermark() <= from) {
        wakeup_->changed.wait_for(lock, std::chrono::milliseconds(500));
      }
      continue;
    }
    lock.unlock();
    // A change that fails here (a disk error) is retried, and nothing after
    // it applied meanwhile: this broker's state stays a prefix of the log.
    std::optional<Offset> failed;
    Offset reached = from;
    auto next = read_records(*partition_, from, [&](const Record& record) {
      // `from` may fall inside a batch (an image's offset, a retried
      // record): its records before `from` are applied already.
      if (failed || record.offset < from) return;
      // The log jumped past what was applied meanwhile (Raft's snapshot
      // install): the records it skipped are in a peer's image, applied first.
      if (partition_->log_start() > reached) {
        failed = reached;
        return;
      }
      v1::ClusterRecord change;
      if (!record.value || !change.ParseFromString(*record.value)) {
        spdlog::error("controller: skipped the metadata record at offset {}: it does not parse",
                      record.offset);
      } else if (Status applied = apply(record.offset, change); !applied.ok()) {
        spdlog::error("controller: applying the metadata record at offset {} failed on this broker: "
                      "{}; retrying in 5 s",
                      record.offset, applied.to_string());
        failed = record.offset;
        return;
      }
      reached = record.offset + 1;
      if (Status marked = topics_.mark_metadata_applied(record.offset + 1); !marked.ok()) {
        // The change stands here; after a restart it is applied once more.
        spdlog::error("controller: cannot save the metadata applied up to offset {}: {}",
                      record.offset, marked.to_string());
      } else {
        saved = record.offset + 1;
      }
    });
    // A jump just before the read leaves nothing for the check above to see
    // (the log restarts past `reached` with control batches at most).
    if (!failed && partition_->log_start() > reached) failed = reached;
    if (next.ok()) snapshot_if_due(saved);
    lock.lock();
    if (!next.ok()) {
      spdlog::error("controller: cannot read the metadata log at offset {}: {}", from,
                    next.status().to_string());
      wakeup_->changed.wait_for(lock, std::chrono::seconds(1));
      continue;
    }
    applied_ = failed.value_or(*next);
    wakeup_->changed.notify_all();
    if (failed && applied_ >= partition_->log_start()) wakeup_->changed.wait_for(lock, std::chrono::seconds(5));
  }
}

void Controller::create_on_first_use(const std::string& name) {
  // Bounded: a client asking for ever new names cannot grow it without end.
  constexpr size_t kMaxFirstUse = 1000;
  if (is_internal_topic(name) || topics_.topic(name)) return;
  {
    std::lock_guard lock(wakeup_->mutex);
    if (first_use_.size() >= kMaxFirstUse || !first_use_.insert(name).second) return;
  }
  wakeup_->changed.notify_all();
}

void Controller::create_first_use_topics() {
  std::set<std::string> wanted;
  {
    std::lock_guard lock(wakeup_->mutex);
    wanted.swap(first_use_);
  }
  for (const auto& name : wanted) {
    if (stopping() || topics_.topic(name)) continue;
    v1::TopicSpec spec;  // the defaults: partitions, and a factor of up to 3
    spec.set_name(name);
    Status created;
    if (auto remote = remote_leader()) {
      v1::CreateTopicsRequest request;
      *request.add_topics() = spec;
      v1::CreateTopicsResponse response;
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
      grpc::Status sent = remote->second->CreateTopics(&context, request, &response);
      created = !sent.ok() ? error(ErrorCode::broker_unavailable, "controller {} did not answer: {}", remote->first,
                                   sent.error_message())
                : response.results_size() != 1 ? error(ErrorCode::unknown, "malformed answer")
                                               : from_proto(response.results(0).error());
    } else {
      created = create_topic(spec);
    }
    if (created.ok()) {
      spdlog::info("created topic {} on its first use (--auto-create-topics)", name);
    } else if (created.code() != ErrorCode::topic_already_exists) {
      // The client asks again (its metadata request does), and so do we then.
      spdlog::warn("creating topic {} on its first use: {}", name, created.to_string());
    }
  }
}

void Controller::maintain() {
  std::string last_warning;  // said once, not every second while it lasts
  std::unique_lock lock(wakeup_->mutex);
  while (!stopping_) {
    wakeup_->changed.wait_for(lock, std::chrono::seconds(1));
    if (stopping_) continue;
    lock.unlock();
    create_first_use_topics();
    report_finished_moves();
    if (!partition_->replica()->is_ready_leader()) {
      lock.lock();
      continue;
    }
    for (const auto& spec : options_.internal_topics) {
      auto topic = topics_.topic(spec.name());
      // A topic made before a config was set here gets it, and unbounded
      // retention.ms=-1 from before becomes bounded; values set already
      // stay, so that controllers started with different flags never
      // flip them back and forth.
      std::map<std::string, std::string> stale;
      for (const auto& [key, value] : spec.configs()) {
        if (!topic) break;
        auto has = topic->config_overrides.find(key);
        if (has == topic->config_overrides.end() || has->second == "-1") stale[key] = value;
      }
      if (topic && stale.empty()) continue;
      Status changed = topic ? alter_topic(spec.name(), stale) : create_topic(spec);
      if (changed.ok()) {
        spdlog::info("controller: {} internal topic {}", topic ? "updated the configs of" : "created",
                     spec.name());
      } else if (changed.code() != ErrorCode::topic_already_exists &&
                 changed.to_string() != std::exchange(last_warning, changed.to_string())) {
        spdlog::warn("controller: {} internal topic {}: {}; retrying every second",
                     topic ? "updating" : "creating", spec.name(), changed.to_string());
      }
    }
    lock.lock();
  }
}

Status Controller::apply(Offset offset, const v1::ClusterRecord& record) {
  Status applied;
  std::string topic;
  switch (record.change_case()) {
    case v1::ClusterRecord::kTopicCreated: {
      const auto& created = record.topic_created();
      topic = created.name();
      TopicSpec spec{topic, created.assignments_size(),
                     {created.configs().begin(), created.configs().end()}, {}, offset.value, {}, {}};
      for (const auto& assignment : created.assignments()) {
        spec.replicas.emplace_back(assignment.brokers().begin(), assignment.brokers().end());
      }
      applied = topics_.create(spec, TopicManager::Limits::trust);
      // Replaying a log whose creation this broker had applied before a restart is not an error.
      if (applied.code() == ErrorCode::topic_already_exists) applied = {};
      break;
    }
    case v1::ClusterRecord::kTopicDeleted:
      topic = record.topic_deleted().name();
      applied = topics_.remove(topic);
      if (applied.code() == ErrorCode::unknown_topic_or_partition) applied = {};
      break;
    case v1::ClusterRecord::kTopicConfigsAltered: {
      const auto& altered = record.topic_configs_altered();
      topic = altered.name();
      applied = topics_.alter(topic, {altered.set().begin(), altered.set().end()},
                              TopicManager::Limits::trust);
      break;
    }
    case v1::ClusterRecord::kPartitionMoveStarted: {
      const auto& started = record.partition_move_started();
      topic = started.topic();
      applied = topics_.start_move(topic, started.topic_id(), started.partition(),
                                   {started.target().begin(), started.target().end()}, offset.value);
      // A topic deleted since: nothing left to move.
      if (applied.code() == ErrorCode::unknown_topic_or_partition) applied = {};
      break;
    }
    case v1::ClusterRecord::kPartitionMoveFinished: {
      const auto& finished = record.partition_move_finished();
      topic = finished.topic();
      applied = topics_.finish_move(topic, finished.topic_id(), finished.partition(), finished.move_id());
      if (applied.code() == ErrorCode::unknown_topic_or_partition) applied = {};
      break;
    }
    case v1::ClusterRecord::kBrokerDecommissioned: {
      const auto& change = record.broker_decommissioned();
      applied = topics_.set_decommissioned(change.broker(), change.decommissioned());
      spdlog::info("controller: broker {} {}", change.broker(),
                   change.decommissioned() ? "is decommissioned: new replicas avoid it"
                                           : "takes replicas again");
      break;
    }
    case v1::ClusterRecord::CHANGE_NOT_SET:
      spdlog::warn("controller: skipped a metadata record of an unknown kind (a newer broker's?)");
      return {};
  }
  if (!applied.ok()) return error(applied.code(), "topic {}: {}", topic, applied.message());
  return {};
}

}  // namespace cairn::broker
