#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cairn/client_options.h"
#include "cairn/record.h"
#include "cairn/status.h"
#include "cairn/strong_int.h"

namespace cairn {

// How records a ShareConsumer handed out get acknowledged.
enum class AcknowledgementMode {
  // Each record poll() returned and the application did not acknowledge
  // is accepted at the next poll(), commit() or close() (Kafka's default
  // for share consumers: processing a record without throwing is success).
  implicit,
  // Only what the application acknowledges is; a record it never
  // acknowledges goes back to the queue when its lock ends, or at close(),
  // and that delivery counts as failed.
  explicit_,
};

struct ShareConsumerOptions {
  ClientOptions client;
  // The share group: its members share the subscribed topics' records, each
  // record held by one member at a time. Required.
  std::string group_id;
  AcknowledgementMode acknowledgement_mode = AcknowledgementMode::implicit;
  // Records one poll() acquires at most. Default 500.
  int32_t max_poll_records = 500;
};

// A record acquired by this member: it holds it until lock_until_ms
// (the broker's clock), or until it acknowledges it.
struct ShareRecord {
  std::string topic;
  int32_t partition = 0;
  Record record;
  // 1 on the first delivery; more when earlier deliveries failed (released,
  // or a lock that ended). A record whose last allowed delivery fails goes
  // to the dead-letter topic <topic>.dlq.
  int32_t delivery_count = 0;
  int64_t lock_until_ms = 0;

  const std::optional<std::string>& key() const { return record.key; }
  const std::optional<std::string>& value() const { return record.value; }
  const std::vector<RecordHeader>& headers() const { return record.headers; }
  Offset offset() const { return record.offset; }
};

// A member of a share group: a worker of a queue (docs/queues.md).
// Delivery is at least once: a record is delivered again when its worker
// releases it, dies, or holds it past its lock, so processing must be
// idempotent (key the work on topic/partition/offset, or on an id in the
// record). Acknowledgements are sent with the next poll(), by commit(), or
// at close(); commit() waits until they are durable.
//
// Share groups are served by a broker started alone in this version (a
// cluster answers unsupported).
// Not thread-safe, but for wakeup(): one thread polls.
class ShareConsumer {
 public:
  static Result<std::unique_ptr<ShareConsumer>> create(ShareConsumerOptions options);
  virtual ~ShareConsumer() = default;

  // The topics whose records this member takes (fails with
  // unknown_topic_or_partition for one that does not exist).
  virtual Status subscribe(const std::vector<std::string>& topics) = 0;
  // Sends the acknowledgements so far, then acquires records available now
  // or within `timeout` (at most max_poll_records, or `max_records` when
  // given: a worker that wants one job at a time asks for 1). Empty when
  // none came. Fails with woken_up when wakeup() was called.
  virtual Result<std::vector<ShareRecord>> poll(std::chrono::milliseconds timeout, size_t max_records = 0) = 0;

  // Done: never delivered again.
  virtual void accept(const ShareRecord& record) = 0;
  // Failed: delivered again (to any member), this delivery counted. The
  // reason is kept, and names the cause in the dead letter if it was the last.
  virtual void release(const ShareRecord& record, const std::string& reason = {}) = 0;
  // Poison: straight to the dead-letter topic, with `reason`.
  virtual void reject(const ShareRecord& record, const std::string& reason) = 0;
  // Not processed (the worker is stopping, say): delivered again, this
  // delivery not counted.
  virtual void give_back(const ShareRecord& record) = 0;
  // Sends the acknowledgements so far and waits until they are durable.
  // Fails with the first refused (record_not_acquired: its lock ended and
  // it went to another member; its work may be done twice).
  virtual Status commit() = 0;
  // Extends the locks of records still being processed (long jobs), now.
  virtual Status renew(const std::vector<ShareRecord>& records) = 0;

  // The member id the broker gave this consumer (empty before the first poll).
  virtual std::string member_id() const = 0;
  // Makes a poll() waiting for records (or the next one) return woken_up.
  // Any thread may call it.
  virtual void wakeup() = 0;
  // Commits, then leaves the group: records still held go back to the
  // queue (their delivery counted, as a worker's crash would). Within
  // `timeout`: what cannot finish by then (a broker down) is abandoned, and
  // the records held come back when their locks end.
  virtual void close(std::chrono::milliseconds timeout) = 0;
  void close() { close(std::chrono::seconds(30)); }
};

}  // namespace cairn
