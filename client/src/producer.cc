#include "cairn/producer.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <shared_mutex>
#include <thread>

#include "cluster.h"
#include "produce_request_buffer.h"
#include "produce_stream_client.h"
#include "producer_batch.h"
#include "proto/assert.h"
#include "proto/byte_io.h"
#include "proto/record_batch_format.h"
#include "proto/rpc_error.h"
#include "proto/thread_name.h"
#include "retry_backoff.h"

namespace cairn {
namespace {

using client::Batch;
using client::FinishedSend;
using client::kEntryOverheadBytes;
using client::kMaxRequestBytes;
using client::kNoGeneration;
using client::kRequestOverheadBytes;
using client::PartitionQueue;
using client::PartitionSend;
using client::record_bytes;
using client::retry_backoff;
using SteadyClock = std::chrono::steady_clock;

// The broker's proof that a batch is not in the log: it refused it for its
// sequence or its epoch, so it may be stamped anew.
bool proven_unwritten(ErrorCode code) {
  return code == ErrorCode::out_of_order_sequence || code == ErrorCode::invalid_producer_epoch;
}

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             SteadyClock::now().time_since_epoch())
      .count();
}

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

v1::Acks to_proto(Acks acks) {
  switch (acks) {
    case Acks::none: return v1::ACKS_NONE;
    case Acks::leader: return v1::ACKS_LEADER;
    case Acks::all: return v1::ACKS_ALL;
  }
  return v1::ACKS_ALL;
}

// Locks (never two at once): a partition queue's mutex; sticky_mutex_;
// requests_mutex_ for requests in flight and the
// streams, with the Cluster's own lock inside it; sender_mutex_ and
// drain_mutex_ only around condition waits.
class ProducerImpl final : public Producer {
 public:
  explicit ProducerImpl(ProducerOptions options)
      : options_(std::move(options)),
        idempotent_(options_.enable_idempotence && options_.acks != Acks::none),
        cluster_(options_.client, client::Cluster::TopicCreation::on_first_use),
        rng_(std::random_device{}()) {
    sender_ = std::thread([this] {
      name_this_thread("cairn-producer");
      run();
    });
  }

  ~ProducerImpl() override { close(); }

  using Producer::send;

  void send(ProducerRecord record, SendCallback callback) override {
    if (closing_) {
      callback(error(ErrorCode::shutting_down, "the producer is closed"));
      return;
    }
    int64_t bytes = record_bytes(record);
    auto partition = choose_partition(record, bytes);
    if (!partition.ok()) {
      callback(partition.status());
      return;
    }
    TopicPartition tp{record.topic, *partition};
    size_t max_batch = max_batch_bytes(tp);
    if (batch_format::kHeaderSize + static_cast<size_t>(bytes) > max_batch) {
      // Sent, it would end the stream (the broker refuses the message).
      callback(error(ErrorCode::record_too_large,
                     "a record of up to {} bytes cannot fit in a produce request: the brokers accept "
                     "at most {} bytes (--max-request-bytes; this client's max_message_bytes is {})",
                     bytes, cluster_.max_request_bytes(), options_.client.max_message_bytes));
      return;
    }
    int64_t timestamp_ms = record.timestamp_ms ? *record.timestamp_ms : wall_ms();
    Status reserved = reserve_buffer(bytes);
    if (!reserved.ok()) {
      callback(reserved);
      return;
    }

    size_t batch_limit = std::min(static_cast<size_t>(options_.batch_bytes), max_batch);
    auto queue = queue_for(tp);
    bool wake = false;
    {
      std::unique_lock lock(queue->mutex);
      if (closing_) {  // close() drains the queues after closing_: nothing may arrive later
        lock.unlock();
        buffered_bytes_ -= bytes;
        callback(error(ErrorCode::shutting_down, "the producer is closed"));
        return;
      }
      Batch& batch = open_batch_locked(*queue, tp, bytes, batch_limit, &wake);
      batch.builder.add(record.key ? std::optional<std::string_view>(*record.key) : std::nullopt,
                        record.value ? std::optional<std::string_view>(*record.value) : std::nullopt,
                        record.headers, timestamp_ms);
      batch.callbacks.push_back(std::move(callback));
      batch.timestamps.push_back(timestamp_ms);
      batch.reserved_bytes += bytes;
      if (batch.builder.size_bytes() >= batch_limit) {
        batch.closed = true;
        wake = true;
      }
    }
    if (wake) wake_sender();
  }

  void flush() override {
    ++flushes_;
    wake_sender();
    std::unique_lock lock(drain_mutex_);
    drained_.wait(lock, [&] { return unacknowledged_ == 0; });
    --flushes_;
  }

  void close() override {
    if (closed_.exchange(true)) return;
    flush();
    closing_ = true;
    {
      std::lock_guard lock(requests_mutex_);
      for (auto& [address, stream] : streams_) stream->close();
    }
    wake_sender();
    space_.notify_all();
    sender_.join();
    // A send() that raced close() may have queued a batch the sender never saw.
    std::vector<std::unique_ptr<Batch>> leftovers;
    for (auto& queue : all_queues()) {
      std::lock_guard lock(queue->mutex);
      for (auto& batch : queue->batches) leftovers.push_back(std::move(batch));
      queue->batches.clear();
    }
    Status closed = error(ErrorCode::shutting_down, "the producer closed before sending this record");
    for (auto& batch : leftovers) fail(std::move(batch), closed);
  }

 private:
  // A request sent and not yet answered.
  struct Pending {
    std::string address;
    std::vector<PartitionSend> sends;  // in the order of the request's entries
    int64_t sent_ms = 0;
  };

  // A broker that does not answer a request within the request timeout
  // (plus a second: with acks=all the broker itself answers at the
  // timeout) is hung or cut off with its connection still open (a paused
  // process, a one-way partition): its stream is cancelled, which settles
  // every request on it as broker_unavailable, to be retried elsewhere
  // after a metadata refresh. Runs on the sender thread.
  void cancel_stalled_streams(int64_t now) {
    // Streams are deleted only on this thread, so the pointers outlive the
    // lock; cancelling outside it, as gRPC may run on_stream_done inline.
    std::set<client::ProduceStreamClient*> stalled;
    {
      std::lock_guard lock(requests_mutex_);
      for (const auto& [id, pending] : pending_) {
        if (now - pending.sent_ms <= options_.client.request_timeout_ms + 1'000) continue;
        auto it = streams_.find(pending.address);
        if (it != streams_.end() && it->second) stalled.insert(it->second.get());
      }
    }
    for (auto* stream : stalled) stream->cancel();
  }

  // What one request may carry besides its own overhead: kMaxRequestBytes,
  // or less when a broker (or this client) accepts less.
  size_t request_budget() const {
    return std::min(kMaxRequestBytes, cluster_.max_request_bytes()) - kRequestOverheadBytes;
  }

  // The largest batch of `tp` a request can carry.
  size_t max_batch_bytes(const TopicPartition& tp) const {
    return request_budget() - kEntryOverheadBytes - tp.topic.size();
  }

  // `bytes`: the record's, as record_bytes() counts them.
  Result<int32_t> choose_partition(const ProducerRecord& record, int64_t bytes) {
    auto count = cluster_.partition_count(record.topic);
    if (!count.ok()) return count.status();
    if (record.partition) {
      if (*record.partition < 0 || *record.partition >= *count) {
        return error(ErrorCode::unknown_topic_or_partition, "topic '{}' has partitions 0..{}, not {}",
                     record.topic, *count - 1, *record.partition);
      }
      return *record.partition;
    }
    if (record.key) return partition_for_key(*record.key, *count);
    // Keyless: one partition until batch_bytes of records went to it, then
    // another at random (Kafka's uniform sticky partitioner, KIP-794).
    // Moving on when a batch is sent instead (KIP-480) spreads a stream
    // sent with linger_ms 0 over every partition in batches of a record or
    // two: more requests, more Raft rounds, and a higher latency. For the
    // same reason a fast stream also stays sticky_partition_ms.
    int64_t now = steady_ms();
    std::lock_guard lock(sticky_mutex_);
    Sticky& sticky = sticky_[record.topic];
    bool done_here = sticky.bytes >= options_.batch_bytes && now - sticky.since_ms >= options_.sticky_partition_ms;
    if (sticky.partition < 0 || sticky.partition >= *count || done_here) {
      sticky.partition = static_cast<int32_t>(rng_() % static_cast<uint32_t>(*count));
      sticky.bytes = 0;
      sticky.since_ms = now;
    }
    sticky.bytes += bytes;
    return sticky.partition;
  }

  // Waits (up to max_block_ms) until `bytes` fit in the buffer, then takes them.
  Status reserve_buffer(int64_t bytes) {
    if (buffered_bytes_.load() + bytes > options_.buffer_bytes) {
      std::unique_lock lock(space_mutex_);
      bool fits = space_.wait_for(lock, std::chrono::milliseconds(options_.max_block_ms), [&] {
        int64_t buffered = buffered_bytes_.load();
        return closing_ || buffered == 0 || buffered + bytes <= options_.buffer_bytes;
      });
      if (closing_) return error(ErrorCode::shutting_down, "the producer is closed");
      if (!fits) {
        return error(ErrorCode::resource_exhausted,
                     "send buffer full for {} ms: the brokers are slower than the sends",
                     options_.max_block_ms);
      }
    }
    buffered_bytes_ += bytes;
    return {};
  }

  std::shared_ptr<PartitionQueue> queue_for(const TopicPartition& tp) {
    {
      std::shared_lock lock(queues_mutex_);
      auto it = queues_.find(tp);
      if (it != queues_.end()) return it->second;
    }
    std::unique_lock lock(queues_mutex_);
    auto& slot = queues_[tp];
    if (!slot) slot = std::make_shared<PartitionQueue>(tp);
    return slot;
  }

  std::vector<std::shared_ptr<PartitionQueue>> all_queues() {
    std::shared_lock lock(queues_mutex_);
    std::vector<std::shared_ptr<PartitionQueue>> out;
    out.reserve(queues_.size());
    for (const auto& [tp, queue] : queues_) out.push_back(queue);
    return out;
  }

  // The batch that takes the next record of `incoming_bytes`: the last one,
  // unless that would grow it past `batch_limit` bytes.
  Batch& open_batch_locked(PartitionQueue& queue, const TopicPartition& tp, int64_t incoming_bytes,
                           size_t batch_limit, bool* wake) {
    auto& batches = queue.batches;
    if (!batches.empty() && !batches.back()->closed &&
        batches.back()->builder.size_bytes() + static_cast<size_t>(incoming_bytes) > batch_limit) {
      batches.back()->closed = true;
      *wake = true;
    }
    if (batches.empty() || batches.back()->closed) {
      auto batch = std::make_unique<Batch>();
      batch->tp = tp;
      batch->builder = RecordBatchBuilder(options_.compression);
      batch->created_ms = steady_ms();
      batch->deadline_ms = batch->created_ms + options_.delivery_timeout_ms;
      batches.push_back(std::move(batch));
      ++unacknowledged_;
      *wake = true;
    }
    return *batches.back();
  }

  bool sendable(const Batch& batch, int64_t now) const {
    if (batch.retry_at_ms > now) return false;
    return batch.closed || flushes_ > 0 || closing_ || now - batch.created_ms >= options_.linger_ms;
  }

  void wake_sender() {
    {
      std::lock_guard lock(sender_mutex_);
      sender_wake_ = true;
    }
    sender_cv_.notify_one();
  }

  // Takes each partition's sendable batches (unless it is in flight) as one
  // send; returns when the sender should look again if nothing was ready.
  std::vector<PartitionSend> collect_ready(int64_t now, int64_t* next_wake) {
    std::vector<PartitionSend> sends;
    std::set<std::string> full = brokers_at_request_limit();
    for (auto& queue : all_queues()) {
      // Its batches wait for an answer to free a slot (the answer wakes the
      // sender): taken now, they would hold the sender up in send_request
      // and with it every other broker's partitions, for as long as a hung
      // broker takes to be given up on.
      if (!full.empty() && leads_on_one_of(full, queue->tp)) continue;
      PartitionSend send = take_sendable(*queue, now, next_wake);
      if (send.batches.empty()) continue;
      encode(send);
      fit_one_request(*queue, send);
      if (send.batches.empty()) {
        finish(std::move(send), std::vector<Result<Offset>>{});  // none could be encoded
      } else if (idempotent_ && !stamp(*queue, send)) {
        finish(std::move(send), identity_error_.ok() ? error(ErrorCode::broker_unavailable,
                                                             "no producer id yet") : identity_error_);
      } else if (send.batches.empty()) {
        finish(std::move(send), std::vector<Result<Offset>>{});  // stamp() put it back: wait
      } else {
        sends.push_back(std::move(send));
      }
    }
    return sends;
  }

  // The brokers with max_in_flight_requests unanswered.
  std::set<std::string> brokers_at_request_limit() {
    std::set<std::string> full;
    std::lock_guard lock(requests_mutex_);
    for (const auto& [address, count] : in_flight_per_broker_) {
      if (count >= options_.max_in_flight_requests) full.insert(address);
    }
    return full;
  }

  bool leads_on_one_of(const std::set<std::string>& brokers, const TopicPartition& tp) {
    auto leader = cluster_.leader(tp);
    return leader.ok() && brokers.contains((*leader)->address);
  }

  // The sendable batches at the front of a queue, at most
  // kMaxBatchesPerSend, as a send in flight; none while the partition may
  // not send more (PartitionQueue).
  PartitionSend take_sendable(PartitionQueue& queue, int64_t now, int64_t* next_wake) {
    PartitionSend send;
    std::lock_guard lock(queue.mutex);
    if (queue.settling) return send;
    if (!queue.in_flight.empty() && !may_send_beside(queue)) return send;
    while (!queue.batches.empty() && send.batches.size() < kMaxBatchesPerSend) {
      Batch& front = *queue.batches.front();
      if (!sendable(front, now)) {
        *next_wake = std::min(*next_wake, front.retry_at_ms > now
                                              ? front.retry_at_ms
                                              : front.created_ms + options_.linger_ms);
        break;
      }
      front.closed = true;
      send.tp = front.tp;
      send.batches.push_back(std::move(queue.batches.front()));
      queue.batches.pop_front();
    }
    if (!send.batches.empty()) {
      send.order = ++queue.sends_taken;
      queue.in_flight.push_back(send.order);
    }
    return send;
  }

  // Whether another send of a partition may join those in flight: only
  // for an idempotent producer, below kMaxSendsInFlight counting the sends
  // that wait for an older one (so a retry is of one of the broker's last
  // kBatchesRemembered batches), with a full batch queued up to
  // kMaxSendsInFlightOfFullBatches and with a full send's worth beyond, and
  // only with batches never sent, stamped in the generation of those in
  // flight (the next sequences). Retries go alone.
  bool may_send_beside(const PartitionQueue& queue) {
    size_t sends = queue.in_flight.size() + queue.finished.size();
    // A queued batch is closed once full (or put back after it was taken);
    // only the last may still be open.
    size_t full_batches = queue.batches.size();
    if (full_batches > 0 && !queue.batches.back()->closed) --full_batches;
    bool enough = sends < kMaxSendsInFlightOfFullBatches ? full_batches >= 1
                                                         : full_batches >= kMaxBatchesPerSend;
    return idempotent_ && sends < kMaxSendsInFlight && enough &&
           !queue.batches.empty() &&
           !queue.batches.front()->stamped &&
           queue.generation == queue.in_flight_generation &&
           current_identity().generation == queue.in_flight_generation;
  }

  // Encodes the batches not encoded yet (taken off their queue, they are the
  // sender's alone); one that cannot be encoded fails.
  void encode(PartitionSend& send) {
    std::vector<std::unique_ptr<Batch>> encoded;
    for (auto& batch : send.batches) {
      if (!batch->encoded) {
        auto built = batch->builder.build();
        if (!built.ok()) {
          fail(std::move(batch), built.status());
          continue;
        }
        batch->encoded = std::make_shared<std::string>(std::move(*built));
        batch->builder.reset();
      }
      encoded.push_back(std::move(batch));
    }
    send.batches = std::move(encoded);
  }

  // Puts back at the front of the queue, in order, the batches beyond what
  // one request carries. The queue stays in flight, so nothing newer can
  // overtake them. A first batch that no request can carry (compression
  // made it larger than its records) fails.
  void fit_one_request(PartitionQueue& queue, PartitionSend& send) {
    size_t budget = request_budget();
    while (!send.batches.empty() && entry_bytes(*send.batches.front()) > budget) {
      size_t size = send.batches.front()->encoded->size();
      fail(std::move(send.batches.front()),
           error(ErrorCode::record_too_large, "a batch of {} bytes for {} cannot fit in a produce "
                 "request of at most {} bytes", size, send.tp, budget + kRequestOverheadBytes));
      send.batches.erase(send.batches.begin());
    }
    size_t bytes = 0;
    size_t fitting = 0;
    while (fitting < send.batches.size() && bytes + entry_bytes(*send.batches[fitting]) <= budget) {
      bytes += entry_bytes(*send.batches[fitting++]);
    }
    std::lock_guard lock(queue.mutex);
    put_back_locked(queue, send, fitting);
  }

  // Stamps the send's unstamped batches with the producer's identity and
  // the partition's next sequences, in order, and keeps in the send only
  // the batches of its first batch's stamp generation; the others go back
  // to the front of the queue (PartitionQueue). False, stamping nothing,
  // while the producer has no id.
  bool stamp(PartitionQueue& queue, PartitionSend& send) {
    Identity identity = current_identity();
    if (identity.producer_id < 0) return false;
    std::lock_guard lock(queue.mutex);
    // Alone: no older send in flight, and none failed and waiting to be
    // settled (finish() moves a failed send out of `in_flight`).
    bool alone = queue.in_flight.size() == 1 && queue.finished.empty() && !queue.settling;
    if (!alone && (queue.settling || identity.generation != queue.in_flight_generation)) {
      // The generation ended since take_sendable: wait for the sends in flight.
      put_back_locked(queue, send, 0);
      return true;
    }
    size_t keep = send.batches.size();
    bool retry = false;  // the send carries a batch sent before
    for (size_t i = 0; i < keep; ++i) {
      Batch& batch = *send.batches[i];
      retry = retry || batch.stamped;
      if (!batch.stamped) {
        if (queue.generation != identity.generation) {
          queue.generation = identity.generation;
          queue.next_sequence = 0;
        }
        // Requests given up on may still share the bytes: stamp a copy. A
        // sole owner is ordered after the last gRPC read by the fence
        // (shared_ptr releases its count with release semantics).
        if (batch.encoded.use_count() > 1) batch.encoded = std::make_shared<std::string>(*batch.encoded);
        std::atomic_thread_fence(std::memory_order_acquire);
        stamp_producer(as_writable_bytes(*batch.encoded), identity.producer_id, identity.epoch,
                       queue.next_sequence);
        batch.stamped = true;
        batch.generation = identity.generation;
        batch.base_sequence = queue.next_sequence;
        queue.next_sequence = sequence_after(queue.next_sequence, batch.record_count());
      }
      if (batch.generation != send.batches.front()->generation) {
        keep = i;
        break;
      }
    }
    put_back_locked(queue, send, keep);
    // Nothing joins a retry: it may fail again, and what joined it land.
    if (alone && !send.batches.empty()) {
      queue.in_flight_generation = retry ? kNoGeneration : send.batches.front()->generation;
    }
    return true;
  }

  // Puts a send's batches from `keep` on back at the front of the queue.
  static void put_back_locked(PartitionQueue& queue, PartitionSend& send, size_t keep) {
    while (send.batches.size() > keep) {
      queue.batches.push_front(std::move(send.batches.back()));
      send.batches.pop_back();
    }
  }

  // Renumbers a partition after the broker proved a batch of it unwritten,
  // or one failed for good (its records may or may not be in the log, so
  // the sequences after it can no longer be trusted to follow): every
  // batch after those that may be in the log (sent, not proven unwritten:
  // they keep their stamps) is stamped anew when next sent, under the
  // current generation. The broker refuses every batch of an epoch after a
  // gap, so none after a batch proven unwritten can have been written.
  void renumber_locked(PartitionQueue& queue) {
    uint64_t current = current_identity().generation;
    int32_t next = 0;
    bool kept = true;
    for (auto& batch : queue.batches) {
      if (kept && batch->stamped && batch->maybe_written) {
        next = batch->generation == current ? sequence_after(batch->base_sequence, batch->record_count()) : 0;
        continue;
      }
      kept = false;
      batch->stamped = false;
      batch->maybe_written = false;
    }
    queue.generation = current;
    queue.next_sequence = next;
  }

  // A batch stamped in `generation` failed for good (not proven written)
  // or was proven unwritten: unless the identity changed since, its epoch
  // ends (the next batches of every partition start again at sequence 0),
  // or, out of epochs, its producer id.
  void end_generation(uint64_t generation) {
    std::lock_guard lock(identity_mutex_);
    if (identity_.generation != generation) return;
    ++identity_.generation;
    if (identity_.epoch == std::numeric_limits<int16_t>::max()) {
      identity_.producer_id = -1;  // the sender asks for another
      identity_.epoch = 0;
    } else {
      ++identity_.epoch;
    }
  }

  struct Identity {
    int64_t producer_id = -1;  // none yet
    int16_t epoch = 0;
    uint64_t generation = 0;   // counts changes of the two
  };

  Identity current_identity() {
    std::lock_guard lock(identity_mutex_);
    return identity_;
  }

  // Sender thread: asks a broker for a producer id when the producer has
  // none, at most once per backoff after a failure (identity_error_ then
  // says why, and sends wait, retried, until their delivery timeout).
  void ensure_identity() {
    if (current_identity().producer_id >= 0 || identity_backoff_.waiting(SteadyClock::now())) return;
    auto broker = cluster_.any_broker();
    Status failed;
    v1::InitProducerIdResponse response;
    if (broker.ok()) {
      auto rpc = (*broker)->broker->InitProducerId(cluster_.context().get(), v1::InitProducerIdRequest(), &response);
      if (rpc.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
        // A broker older than idempotence (a rolling upgrade, clients
        // first): send as a producer without it rather than not at all.
        idempotent_ = false;
        return;
      }
      if (!rpc.ok()) {
        failed = error(from_grpc(rpc).code(), "getting a producer id from {}: {}", (*broker)->address, rpc.error_message());
        if (client::unanswered(failed)) cluster_.avoid((*broker)->address);
      } else {
        cluster_.answered((*broker)->address);
        failed = from_proto(response.error());
      }
    } else {
      failed = broker.status();
    }
    if (!failed.ok()) {
      identity_error_ = failed;
      identity_backoff_.failed(options_.client, SteadyClock::now());
      return;
    }
    identity_backoff_.succeeded();
    identity_error_ = {};
    std::lock_guard lock(identity_mutex_);
    identity_.producer_id = response.producer_id();
    identity_.epoch = static_cast<int16_t>(response.producer_epoch());
    ++identity_.generation;
  }

  // The sender thread: moves sendable batches into requests, one per broker.
  void run() {
    while (true) {
      {
        std::lock_guard lock(requests_mutex_);
        std::erase_if(dead_streams_, [](const auto& s) { return s->done(); });
      }
      int64_t now = steady_ms();
      int64_t next_wake = now + 100;
      cancel_stalled_streams(now);
      if (idempotent_) ensure_identity();
      auto ready = collect_ready(now, &next_wake);
      if (!ready.empty()) {
        dispatch(std::move(ready));
        continue;
      }
      std::unique_lock lock(sender_mutex_);
      if (closing_ && unacknowledged_ == 0) break;
      sender_cv_.wait_until(lock, SteadyClock::time_point(std::chrono::milliseconds(next_wake)),
                            [&] { return sender_wake_ || (closing_ && unacknowledged_ == 0); });
      sender_wake_ = false;
    }
    // Let the streams finish before the producer goes away. done() turns
    // true just after a stream's last callback, so poll briefly for it.
    std::unique_lock lock(requests_mutex_);
    auto all_done = [&] {
      bool done = true;
      for (auto& [address, stream] : streams_) done = done && stream->done();
      for (auto& stream : dead_streams_) done = done && stream->done();
      return done;
    };
    while (!all_done()) streams_done_.wait_for(lock, std::chrono::milliseconds(1));
  }

  // Groups sends by leader and packs them into requests, one or more per
  // broker; a partition's send is never split. Runs on the sender thread.
  void dispatch(std::vector<PartitionSend> sends) {
    std::map<std::string, std::vector<PartitionSend>> by_broker;
    for (auto& send : sends) {
      auto leader = cluster_.leader(send.tp);
      if (!leader.ok()) {
        finish(std::move(send), leader.status());
        continue;
      }
      by_broker[(*leader)->address].push_back(std::move(send));
    }
    size_t budget = request_budget();
    for (auto& [address, to_send] : by_broker) {
      size_t next = 0;
      while (next < to_send.size()) {
        std::vector<PartitionSend> in_request;
        size_t bytes = 0;  // each send fits alone (fit_one_request)
        while (next < to_send.size() &&
               (in_request.empty() || bytes + request_bytes(to_send[next]) <= budget)) {
          bytes += request_bytes(to_send[next]);
          for (const auto& batch : to_send[next].batches) batch->maybe_written = true;
          in_request.push_back(std::move(to_send[next++]));
        }
        send_request(address, std::move(in_request));
      }
    }
  }

  // One request (its wire bytes: ProduceRequestBuffer) of every batch of `sends`.
  std::unique_ptr<grpc::ByteBuffer> encode_request(uint64_t id, const std::vector<PartitionSend>& sends) const {
    client::ProduceRequestBuffer request(to_proto(options_.acks), options_.client.request_timeout_ms, id);
    for (const auto& send : sends) {
      for (const auto& batch : send.batches) request.add(batch->tp, batch->encoded);
    }
    return std::make_unique<grpc::ByteBuffer>(std::move(request).build());
  }

  void send_request(const std::string& address, std::vector<PartitionSend> sends) {
    std::unique_lock lock(requests_mutex_);
    // Bound requests in flight per broker: wait for answers (sender thread
    // only). This thread is also the one that gives up on a hung broker's
    // requests, which may be the ones waited for: it keeps doing so.
    auto below_limit = [&] { return in_flight_per_broker_[address] < options_.max_in_flight_requests; };
    bool waited = !below_limit();
    while (!in_flight_changed_.wait_for(lock, std::chrono::milliseconds(100), below_limit)) {
      lock.unlock();
      cancel_stalled_streams(steady_ms());
      lock.lock();
    }
    auto& stream = streams_[address];
    if (waited && (!stream || stream->done())) {
      // The stream ended while this request waited for it (given up on, or
      // lost): the partitions' leaders may have moved, so the sends go back
      // to be routed again after a metadata refresh.
      lock.unlock();
      settle_all(std::move(sends), error(ErrorCode::broker_unavailable,
                                         "the stream to {} ended while a request waited for it", address));
      return;
    }
    uint64_t id = ++next_request_id_;
    auto request = encode_request(id, sends);
    if (!stream || stream->done()) {
      if (stream) dead_streams_.push_back(std::move(stream));
      auto connection = cluster_.leader(sends.front().tp);
      std::shared_ptr<grpc::Channel> channel = connection.ok() ? (*connection)->channel : nullptr;
      if (!channel) {
        lock.unlock();
        settle_all(std::move(sends), connection.status());
        return;
      }
      stream = std::make_unique<client::ProduceStreamClient>(
          channel, [this](v1::ProduceResponse& r) { on_response(r); },
          [this, address](const grpc::Status& s) { on_stream_done(address, s); });
    }
    if (!stream->send(request)) {
      // The stream ended between the check and now: retry on a new one.
      lock.unlock();
      settle_all(std::move(sends), error(ErrorCode::broker_unavailable, "the stream to {} ended", address));
      return;
    }
    pending_[id] = Pending{address, std::move(sends), steady_ms()};
    ++in_flight_per_broker_[address];
  }

  void on_response(const v1::ProduceResponse& response) {
    Pending pending;
    {
      std::lock_guard lock(requests_mutex_);
      auto it = pending_.find(response.request_id());
      if (it == pending_.end()) return;
      pending = std::move(it->second);
      pending_.erase(it);
      --in_flight_per_broker_[pending.address];
    }
    in_flight_changed_.notify_all();
    int entry = 0;
    for (auto& send : pending.sends) {
      std::vector<Result<Offset>> outcomes;
      for (size_t i = 0; i < send.batches.size(); ++i) outcomes.push_back(outcome_of(response, entry++));
      finish(std::move(send), std::move(outcomes));
    }
  }

  static Result<Offset> outcome_of(const v1::ProduceResponse& response, int entry) {
    if (entry >= response.results_size()) {
      return error(ErrorCode::unknown, "the broker skipped a partition");
    }
    const auto& result = response.results(entry);
    Status status = from_proto(result.error());
    if (!status.ok()) return status;
    return Offset(result.base_offset());
  }

  void on_stream_done(const std::string& address, const grpc::Status& status) {
    std::vector<PartitionSend> orphans;
    {
      std::lock_guard lock(requests_mutex_);
      for (auto it = pending_.begin(); it != pending_.end();) {
        if (it->second.address == address) {
          for (auto& send : it->second.sends) orphans.push_back(std::move(send));
          it = pending_.erase(it);
        } else {
          ++it;
        }
      }
      in_flight_per_broker_[address] = 0;
    }
    in_flight_changed_.notify_all();
    if (!orphans.empty()) {
      Status why = status.ok() ? error(ErrorCode::broker_unavailable, "the stream to {} closed", address)
                               : error(ErrorCode::broker_unavailable, "lost the stream to {}: {}", address,
                                       status.error_message());
      settle_all(std::move(orphans), why);
    }
    streams_done_.notify_all();
    wake_sender();
  }

  void settle_all(std::vector<PartitionSend> sends, const Status& status) {
    for (auto& send : sends) finish(std::move(send), status);
  }

  // A send that failed as a whole.
  void finish(PartitionSend send, const Status& status) {
    std::vector<Result<Offset>> outcomes(send.batches.size(), status);
    finish(std::move(send), std::move(outcomes));
  }

  // A send is no longer in flight, with these outcomes (see PartitionQueue):
  // acknowledged once every older send of its partition has been; if it or
  // one before it failed, settled with the others once none is in flight.
  void finish(PartitionSend send, std::vector<Result<Offset>> outcomes) {
    CAIRN_ASSERT(outcomes.size() == send.batches.size());
    bool landed = std::all_of(outcomes.begin(), outcomes.end(), [](const auto& o) { return o.ok(); });
    auto queue = queue_for(send.tp);
    {
      std::lock_guard lock(queue->mutex);
      auto& in_flight = queue->in_flight;
      auto it = std::find(in_flight.begin(), in_flight.end(), send.order);
      CAIRN_ASSERT(it != in_flight.end());
      in_flight.erase(it);
      if (!landed) queue->settling = true;
      auto& finished = queue->finished;
      auto at = std::find_if(finished.begin(), finished.end(),
                             [&](const FinishedSend& f) { return f.send.order > send.order; });
      finished.insert(at, FinishedSend{std::move(send), std::move(outcomes)});
      if (queue->draining) return;  // that thread settles this one too, in order
      queue->draining = true;
    }
    drain(*queue);
  }

  // Settles a partition's finished sends that are ready, oldest first,
  // until none is: those older than every send in flight, or, once one
  // failed, all of them when none is in flight. One thread at a time
  // (`draining`), so callbacks run in send order.
  void drain(PartitionQueue& queue) {
    for (;;) {
      std::vector<FinishedSend> ready;
      bool ends_settling = false;
      {
        std::lock_guard lock(queue.mutex);
        auto& finished = queue.finished;
        size_t count = 0;
        if (!queue.settling) {
          while (count < finished.size() &&
                 (queue.in_flight.empty() || finished[count].send.order < queue.in_flight.front())) {
            ++count;
          }
        } else if (queue.in_flight.empty()) {
          count = finished.size();
          ends_settling = true;
        }
        if (count == 0) {
          queue.draining = false;
          return;
        }
        auto end = finished.begin() + static_cast<std::ptrdiff_t>(count);
        std::move(finished.begin(), end, std::back_inserter(ready));
        finished.erase(finished.begin(), end);
      }
      PartitionSend all{ready.front().send.tp, {}, 0};
      std::vector<Result<Offset>> all_outcomes;
      for (auto& done : ready) {
        for (auto& batch : done.send.batches) all.batches.push_back(std::move(batch));
        for (auto& outcome : done.outcomes) all_outcomes.push_back(std::move(outcome));
      }
      settle(std::move(all), all_outcomes, ends_settling);
    }
  }

  // Settles the batches of a partition's finished sends, oldest first,
  // once every older send is settled (see drain): acknowledges the batches
  // that landed; of the others, those before the last that landed fail
  // (unless idempotent: they landed too, and are retried to learn where),
  // the rest are retried while their error is retriable and their delivery
  // timeout allows. A stamped batch that fails for good ends its stamp
  // generation (a gap in its sequences), unless it is proven written: it
  // fails as duplicate_sequence. Then, if it `ends_settling`, the
  // partition may send again.
  void settle(PartitionSend send, const std::vector<Result<Offset>>& outcomes, bool ends_settling) {
    CAIRN_ASSERT(outcomes.size() == send.batches.size());
    size_t landed_end = 0;  // one past the last batch that landed
    for (size_t i = 0; i < outcomes.size(); ++i) {
      if (outcomes[i].ok()) landed_end = i + 1;
    }
    int64_t now = steady_ms();
    std::vector<std::unique_ptr<Batch>> retry;
    bool renumber = false;
    // The stamp generation of an earlier batch of this settle that may be
    // unwritten and goes again under its stamp: a later batch of it that a
    // leader refused as out of order may only have arrived first (sent to
    // a new leader while the earlier one was with the old).
    std::optional<uint64_t> retried_unsure;
    for (size_t i = 0; i < outcomes.size(); ++i) {
      auto& batch = send.batches[i];
      if (outcomes[i].ok()) {
        complete(std::move(batch), *outcomes[i]);
        continue;
      }
      Status status = outcomes[i].status();
      bool unwritten = idempotent_ && batch->stamped && proven_unwritten(status.code());
      // An idempotent batch before one that landed landed too (the broker
      // takes a producer's batches in sequence), as did one the broker says
      // it wrote before (duplicate_sequence): its retry is answered with
      // where. Any other batch before one that landed would land after the
      // later records.
      if (unwritten) {
        batch->proven_written = false;  // lost since: acks=leader across a failover
      } else if (idempotent_ && batch->stamped &&
                 (i < landed_end || status.code() == ErrorCode::duplicate_sequence)) {
        batch->proven_written = true;
      }
      bool in_time = now < batch->deadline_ms && !closing_;
      if (i < landed_end && !batch->proven_written) {
        fail(std::move(batch), error(status.code(), "{} (not retried: later records of {} were written)",
                                     status.message(), send.tp));
      } else if (batch->proven_written && !(in_time && is_retriable(status.code()))) {
        // In the log under its stamp, so the stamps go on: no new epoch.
        std::string_view why = in_time ? "not retriable" : closing_ ? "the producer closed" : "the delivery timeout passed";
        fail(std::move(batch), error(ErrorCode::duplicate_sequence, "written to {} at offsets not learned ({}): {}",
                                     send.tp, why, status.message()));
      } else if (unwritten && in_time && status.code() == ErrorCode::out_of_order_sequence &&
                 retried_unsure == batch->generation) {
        // Sent again behind that batch, under the same stamp: no new epoch.
        batch->maybe_written = false;
        batch->retry_at_ms = now + retry_backoff(options_.client, ++batch->attempts).count();
        retry.push_back(std::move(batch));
      } else if (unwritten && in_time) {
        // Stamped anew (renumber_locked) and sent again.
        end_generation(batch->generation);
        renumber = true;
        batch->maybe_written = false;
        batch->retry_at_ms = now + retry_backoff(options_.client, ++batch->attempts).count();
        retry.push_back(std::move(batch));
      } else if (is_retriable(status.code()) && in_time) {
        if (status.code() == ErrorCode::not_leader ||
            status.code() == ErrorCode::unknown_topic_or_partition ||
            status.code() == ErrorCode::broker_unavailable || status.code() == ErrorCode::io_error) {
          cluster_.invalidate(send.tp.topic);
        }
        if (idempotent_ && batch->stamped && !batch->proven_written) retried_unsure = batch->generation;
        batch->retry_at_ms = now + retry_backoff(options_.client, ++batch->attempts).count();
        retry.push_back(std::move(batch));
      } else {
        if (idempotent_ && batch->stamped) {
          end_generation(batch->generation);
          renumber = true;
        }
        fail(std::move(batch), status);
      }
    }
    auto queue = queue_for(send.tp);
    {
      std::lock_guard lock(queue->mutex);
      for (auto it = retry.rbegin(); it != retry.rend(); ++it) queue->batches.push_front(std::move(*it));
      if (renumber) renumber_locked(*queue);
      if (ends_settling) {
        CAIRN_ASSERT(queue->in_flight.empty());
        queue->settling = false;
      }
    }
    wake_sender();
  }

  void complete(std::unique_ptr<Batch> batch, Offset base) {
    for (size_t i = 0; i < batch->callbacks.size(); ++i) {
      batch->callbacks[i](RecordMetadata{batch->tp.topic, batch->tp.partition,
                                         base + static_cast<int64_t>(i), batch->timestamps[i]});
    }
    release(*batch);
  }

  void fail(std::unique_ptr<Batch> batch, const Status& status) {
    for (auto& callback : batch->callbacks) callback(status);
    release(*batch);
  }

  void release(const Batch& batch) {
    buffered_bytes_ -= batch.reserved_bytes;
    { std::lock_guard lock(space_mutex_); }  // a sender between check and wait sees it
    space_.notify_all();
    if (--unacknowledged_ == 0) {
      { std::lock_guard lock(drain_mutex_); }
      drained_.notify_all();
      wake_sender();
    }
  }

  const ProducerOptions options_;
  // Off for acks none, or while a broker does not know InitProducerId.
  std::atomic<bool> idempotent_;
  client::Cluster cluster_;

  std::mutex identity_mutex_;
  Identity identity_;                // guarded by identity_mutex_
  Status identity_error_;            // sender thread only: why there is no id yet
  client::Backoff identity_backoff_; // sender thread only

  std::shared_mutex queues_mutex_;  // the map; each queue has its own lock
  std::map<TopicPartition, std::shared_ptr<PartitionQueue>> queues_;

  // Where a topic's keyless records go, and their bytes sent there so far.
  struct Sticky {
    int32_t partition = -1;
    int64_t bytes = 0;     // sent to `partition` since the move
    int64_t since_ms = 0;  // steady_ms() of the move
  };
  std::mutex sticky_mutex_;
  std::map<std::string, Sticky> sticky_;  // by topic
  std::mt19937 rng_;

  std::mutex requests_mutex_;
  std::condition_variable in_flight_changed_;
  std::condition_variable streams_done_;
  std::map<uint64_t, Pending> pending_;  // by request id
  std::map<std::string, int> in_flight_per_broker_;
  std::map<std::string, std::unique_ptr<client::ProduceStreamClient>> streams_;
  std::vector<std::unique_ptr<client::ProduceStreamClient>> dead_streams_;
  uint64_t next_request_id_ = 0;

  std::mutex sender_mutex_;
  std::condition_variable sender_cv_;
  bool sender_wake_ = false;

  std::mutex space_mutex_;
  std::condition_variable space_;
  std::atomic<int64_t> buffered_bytes_{0};

  std::mutex drain_mutex_;
  std::condition_variable drained_;
  std::atomic<int64_t> unacknowledged_{0};  // batches created, not yet completed or failed

  std::atomic<int> flushes_{0};
  std::atomic<bool> closed_{false};
  std::atomic<bool> closing_{false};
  std::thread sender_;
};

}  // namespace

Result<std::unique_ptr<Producer>> Producer::create(ProducerOptions options) {
  CAIRN_RETURN_IF_ERROR(client::check_client_options(options.client));
  if (options.batch_bytes < 1024 || options.linger_ms < 0 || options.sticky_partition_ms < 0 ||
      options.buffer_bytes < options.batch_bytes || options.max_in_flight_requests < 1) {
    return error(ErrorCode::invalid_config,
                 "batch_bytes >= 1024, linger_ms >= 0, sticky_partition_ms >= 0, buffer_bytes >= "
                 "batch_bytes and max_in_flight_requests >= 1 are required");
  }
  return std::unique_ptr<Producer>(new ProducerImpl(std::move(options)));
}

std::future<Result<RecordMetadata>> Producer::send(ProducerRecord record) {
  auto promise = std::make_shared<std::promise<Result<RecordMetadata>>>();
  auto future = promise->get_future();
  send(std::move(record), [promise](const Result<RecordMetadata>& r) { promise->set_value(r); });
  return future;
}

}  // namespace cairn
