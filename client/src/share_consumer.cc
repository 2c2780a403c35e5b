#include "cairn/share_consumer.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "cluster.h"
#include "proto/record_messages.h"
#include "proto/rpc_error.h"
#include "retry_backoff.h"

namespace cairn {
namespace {

using client::Cluster;
using Clock = std::chrono::steady_clock;

struct PendingAck {
  std::string topic;
  int32_t partition = 0;
  Offset offset;
  v1::AckType type = v1::ACCEPT;
  std::string reason;
};

class ShareConsumerImpl final : public ShareConsumer {
 public:
  explicit ShareConsumerImpl(ShareConsumerOptions options)
      : options_(std::move(options)), cluster_(options_.client) {}
  ~ShareConsumerImpl() override { close(std::chrono::seconds(30)); }

  Status subscribe(const std::vector<std::string>& topics) override {
    if (topics.empty()) return error(ErrorCode::invalid_request, "subscribe to at least one topic");
    for (const auto& topic : topics) {
      auto count = cluster_.partition_count(topic);
      if (!count.ok()) return count.status();
    }
    topics_ = topics;
    return {};
  }

  Result<std::vector<ShareRecord>> poll(std::chrono::milliseconds timeout, size_t max_records) override {
    if (closed_) return error(ErrorCode::invalid_request, "poll() after close()");
    if (topics_.empty()) return error(ErrorCode::invalid_request, "poll() before subscribe()");
    if (woken_.exchange(false)) return error(ErrorCode::woken_up, "wakeup() was called");
    CAIRN_RETURN_IF_ERROR(send_acknowledgements());
    size_t want = max_records > 0 ? max_records : static_cast<size_t>(std::max(options_.max_poll_records, 1));
    auto deadline = Clock::now() + timeout;
    // One topic per request, taking turns, until records come or time is up.
    do {
      const std::string& topic = topics_[next_topic_++ % topics_.size()];
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (topics_.size() > 1) wait = std::min(wait, std::chrono::milliseconds(100));
      auto records = fetch(topic, want, std::max(wait, std::chrono::milliseconds(0)));
      if (!records.ok() || !records->empty()) return records;
      if (woken_.exchange(false)) return error(ErrorCode::woken_up, "wakeup() was called");
    } while (Clock::now() < deadline);
    return std::vector<ShareRecord>{};
  }

  void accept(const ShareRecord& r) override { acknowledge(r, v1::ACCEPT, {}); }
  void release(const ShareRecord& r, const std::string& reason) override { acknowledge(r, v1::RELEASE, reason); }
  void reject(const ShareRecord& r, const std::string& reason) override { acknowledge(r, v1::REJECT, reason); }
  void give_back(const ShareRecord& r) override { acknowledge(r, v1::GIVE_BACK, {}); }

  Status commit() override { return send_acknowledgements(); }

  Status renew(const std::vector<ShareRecord>& records) override {
    std::vector<PendingAck> renewals;
    for (const auto& r : records) renewals.push_back({r.topic, r.partition, r.offset(), v1::RENEW, {}});
    return send(renewals, false);
  }

  std::string member_id() const override { return member_id_; }

  void wakeup() override {
    woken_ = true;
    std::lock_guard lock(call_mutex_);
    if (call_) call_->TryCancel();
  }

  void close(std::chrono::milliseconds timeout) override {
    if (closed_) return;
    closed_ = true;
    not_after_ = Clock::now() + timeout;
    if (member_id_.empty()) return;
    Status committed = send_acknowledgements();
    (void)committed;  // what could not be sent goes back when its locks end
    // Leaving releases what this member still holds, on each topic.
    for (const auto& topic : topics_) (void)send_to(topic, {}, true);
  }

 private:
  void acknowledge(const ShareRecord& r, v1::AckType type, const std::string& reason) {
    held_.erase({r.topic, r.partition, r.offset()});
    pending_.push_back({r.topic, r.partition, r.offset(), type, reason});
  }

  // Implicit mode: what was handed out and not acknowledged is accepted.
  Status send_acknowledgements() {
    if (options_.acknowledgement_mode == AcknowledgementMode::implicit) {
      for (const auto& [topic, partition, offset] : held_) pending_.push_back({topic, partition, offset, v1::ACCEPT, {}});
      held_.clear();
    }
    if (pending_.empty()) return {};
    std::vector<PendingAck> sending;
    sending.swap(pending_);
    return send(sending, false);
  }

  Status send(std::vector<PendingAck> acks, bool leave) {
    std::sort(acks.begin(), acks.end(), [](const PendingAck& a, const PendingAck& b) {
      return std::tie(a.topic, a.partition, a.offset) < std::tie(b.topic, b.partition, b.offset);
    });
    Status first_failure;
    for (size_t i = 0; i < acks.size();) {
      size_t j = i;
      while (j < acks.size() && acks[j].topic == acks[i].topic) ++j;
      Status s = send_to(acks[i].topic, std::vector<PendingAck>(acks.begin() + static_cast<ptrdiff_t>(i),
                                                                acks.begin() + static_cast<ptrdiff_t>(j)),
                         leave);
      if (first_failure.ok() && !s.ok()) first_failure = s;
      i = j;
    }
    return first_failure;
  }

  // One topic's acknowledgements (sorted), consecutive offsets of one kind
  // sent as one range.
  Status send_to(const std::string& topic, const std::vector<PendingAck>& acks, bool leave) {
    v1::ShareAcknowledgeRequest request;
    request.set_group(options_.group_id);
    request.set_member_id(member_id_);
    request.set_topic(topic);
    request.set_leave(leave);
    v1::Acknowledgement* last = nullptr;
    for (const auto& a : acks) {
      if (last && last->partition() == a.partition && last->last_offset() + 1 == a.offset.value &&
          last->type() == a.type && last->reason() == a.reason) {
        last->set_last_offset(a.offset.value);
        continue;
      }
      last = request.add_acknowledgements();
      last->set_partition(a.partition);
      last->set_first_offset(a.offset.value);
      last->set_last_offset(a.offset.value);
      last->set_type(a.type);
      last->set_reason(a.reason);
    }
    v1::ShareAcknowledgeResponse response;
    CAIRN_RETURN_IF_ERROR(call(std::chrono::milliseconds(0), response, [&](auto& stub, grpc::ClientContext* context) {
      return stub.ShareAcknowledge(context, request, &response);
    }));
    for (const auto& result : response.results()) {
      Status s = from_proto(result.error());
      if (!s.ok()) {
        return error(s.code(), "{} partition {} offsets {}..{}: {}", topic, result.partition(),
                     result.first_offset(), result.last_offset(), s.message());
      }
    }
    return {};
  }

  Result<std::vector<ShareRecord>> fetch(const std::string& topic, size_t max_records,
                                         std::chrono::milliseconds wait) {
    v1::ShareFetchRequest request;
    request.set_group(options_.group_id);
    request.set_member_id(member_id_);
    request.set_topic(topic);
    request.set_max_records(static_cast<int32_t>(std::min<size_t>(max_records, 1'000'000)));
    request.set_max_wait_ms(static_cast<int32_t>(std::min<int64_t>(wait.count(), 30'000)));
    v1::ShareFetchResponse response;
    CAIRN_RETURN_IF_ERROR(call(wait, response, [&](auto& stub, grpc::ClientContext* context) {
      return stub.ShareFetch(context, request, &response);
    }));
    member_id_ = response.member_id();
    std::vector<ShareRecord> out;
    out.reserve(static_cast<size_t>(response.records_size()));
    for (auto& acquired : *response.mutable_records()) {
      ShareRecord r{topic, acquired.partition(), from_proto(acquired.record()), acquired.delivery_count(),
                    acquired.lock_until_ms()};
      held_.insert({topic, r.partition, r.offset()});
      out.push_back(std::move(r));
    }
    return out;
  }

  // Calls the share group's coordinator (the leader of its partition of
  // __share_group_state), finding it again and retrying while it does not
  // answer or has moved (not_leader), for up to the request timeout (plus
  // `wait`, the time the broker may hold the call). The answer's own error
  // is the result: after a move, acknowledgements of records the old
  // coordinator handed out are record_not_acquired (those records come
  // again), as after a broker restart.
  template <typename Response, typename Call>
  Status call(std::chrono::milliseconds wait, Response& response, Call&& rpc) {
    auto give_up = std::min(not_after_, Clock::now() + wait + std::chrono::milliseconds(options_.client.request_timeout_ms));
    client::Backoff backoff;
    Status last;
    while (true) {
      auto broker = cluster_.coordinator(options_.group_id, kShareStateTopic);
      if (!broker.ok()) {
        last = broker.status();
        if (last.code() != ErrorCode::not_leader && !client::unanswered(last)) return last;
      } else {
        auto context = cluster_.context(give_up);
        context->set_deadline(std::chrono::system_clock::now() + (give_up - Clock::now()));
        {
          std::lock_guard lock(call_mutex_);
          call_ = context.get();
        }
        response.Clear();
        grpc::Status rpc_status = rpc(*(*broker)->queues, context.get());
        {
          std::lock_guard lock(call_mutex_);
          call_ = nullptr;
        }
        if (rpc_status.error_code() == grpc::StatusCode::CANCELLED && woken_.exchange(false)) {
          return error(ErrorCode::woken_up, "wakeup() was called");
        }
        last = from_grpc(rpc_status);
        if (last.ok()) {
          cluster_.answered((*broker)->address);
          last = from_proto(response.error());
          if (last.code() != ErrorCode::not_leader) return last;
        } else if (client::unanswered(last)) {
          cluster_.avoid((*broker)->address);
        } else {
          return error(last.code(), "broker {}: {}", (*broker)->address, last.message());
        }
      }
      cluster_.invalidate(kShareStateTopic);
      backoff.failed(options_.client, Clock::now());
      if (backoff.retry_at() >= give_up) {
        return error(last.code(), "share group {}: no coordinator answered ({}); retry later", options_.group_id,
                     last.message());
      }
      std::this_thread::sleep_until(backoff.retry_at());
    }
  }

  const ShareConsumerOptions options_;
  Cluster cluster_;
  std::vector<std::string> topics_;
  size_t next_topic_ = 0;
  std::string member_id_;
  std::set<std::tuple<std::string, int32_t, Offset>> held_;  // handed out, not acknowledged
  std::vector<PendingAck> pending_;
  std::atomic<bool> woken_{false};
  std::mutex call_mutex_;
  grpc::ClientContext* call_ = nullptr;  // the call wakeup() cancels
  bool closed_ = false;
  Clock::time_point not_after_ = Clock::time_point::max();  // set by close(timeout)
};

}  // namespace

Result<std::unique_ptr<ShareConsumer>> ShareConsumer::create(ShareConsumerOptions options) {
  CAIRN_RETURN_IF_ERROR(client::check_client_options(options.client));
  if (options.group_id.empty()) {
    return error(ErrorCode::invalid_config, "a share consumer needs a group_id: the queue's workers share it");
  }
  if (options.max_poll_records < 1) {
    return error(ErrorCode::invalid_config, "max_poll_records must be at least 1 (was {})", options.max_poll_records);
  }
  return std::unique_ptr<ShareConsumer>(new ShareConsumerImpl(std::move(options)));
}

}  // namespace cairn
