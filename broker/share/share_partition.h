#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cairn/strong_int.h"
#include "proto/status.h"

namespace cairn::broker {

// Where one record of a share partition is in its deliveries.
enum class DeliveryState : uint8_t {
  available = 0,      // waiting for a member (again, after a failed delivery)
  acquired = 1,       // held by a member under a lock
  acknowledged = 2,   // done
  dead_lettering = 3, // out of attempts or rejected: on its way to the dead-letter topic
  archived = 4,       // in the dead-letter topic: done here
};

enum class AckType { accept, release, reject, give_back, renew };

// The time of a change on both clocks: locks are timed on the steady one (a
// wall clock that jumps must neither end live locks nor keep dead ones);
// delivery times, which are kept and shown, are wall times.
struct ShareTime {
  int64_t wall_ms = 0;
  int64_t steady_ms = 0;
};

struct InFlightRecord {
  DeliveryState state = DeliveryState::available;
  int32_t delivery_count = 0;
  std::string member;              // acquired: the holder
  int64_t lock_until_ms = 0;       // acquired: the lock's end (steady time)
  int64_t first_delivery_ms = 0;
  int64_t last_delivery_ms = 0;
  std::string last_error;          // the reason given with the last release or reject
};

struct SharePartitionLimits {
  int64_t record_lock_ms = 30'000;
  // Records tracked at once (acquired, awaiting redelivery or acknowledged
  // above the start): bounds memory and what a member may hold.
  int32_t max_record_locks = 2000;
  int32_t max_delivery_attempts = 5;
};

// One share group's deliveries of one partition (KIP-932's share
// partition). Offsets below start() are done; records at or above end()
// were never delivered; those between are tracked one by one (offsets
// absent there were never records: compacted away, or control batches).
//
// Invariants: every tracked offset is in [start, end); the first tracked
// record, if any, is not done (acknowledged or archived), and start is its
// offset (end when none is tracked); a record is acquired by exactly one
// member until its lock ends or it is acknowledged; delivery_count never
// exceeds max_delivery_attempts.
//
// Not thread-safe: the ShareCoordinator's mutex guards it.
class SharePartition {
 public:
  explicit SharePartition(Offset start) : start_(start), end_(start) {}

  Offset start() const { return start_; }
  Offset end() const { return end_; }
  const std::map<Offset, InFlightRecord>& records() const { return records_; }

  // Acquires up to `max` records awaiting redelivery, lowest offset first.
  std::vector<Offset> acquire_available(const std::string& member, size_t max, ShareTime now,
                                        const SharePartitionLimits& limits);
  // How many new records may be acquired now (the tracked window's room).
  size_t room(const SharePartitionLimits& limits) const;
  // Acquires a record never delivered, at or past end(); end moves past it.
  void acquire_new(Offset offset, const std::string& member, ShareTime now,
                   const SharePartitionLimits& limits);
  // Moves end() forward over offsets that hold no record.
  void skip_to(Offset offset);
  // Retention removed the records below `log_start`: they are done.
  void drop_below(Offset log_start);
  // A tracked record that is not in the log any more (compacted away): done.
  void forget(Offset offset);

  // Applies one acknowledgement of [first, last] by `member`; offsets in the
  // range that hold no record are skipped. record_not_acquired when the
  // member does not hold one of them now (nothing in the range changes).
  Status acknowledge(const std::string& member, Offset first, Offset last, AckType type,
                     std::string_view reason, int64_t steady_ms, const SharePartitionLimits& limits);
  // Ends the locks that ran out (or all of `member`'s, when given): each
  // such delivery counts as failed. True if any ended.
  bool release_expired(int64_t steady_ms, const SharePartitionLimits& limits);
  bool release_member(const std::string& member, const SharePartitionLimits& limits);
  // Records rejected or out of attempts, waiting to be dead-lettered.
  std::vector<Offset> dead_lettering() const;
  void mark_dead_lettered(Offset offset);
  // Starts over at `offset` (an operator's reset): forgets every tracked record.
  void reset(Offset offset);

  // Held by anyone now.
  bool any_acquired() const;
  size_t acquired_by(const std::string& member) const;

  // The durable form: start, end and the tracked records (acquired ones as
  // available, their delivery counted: a broker restart ends every lock).
  std::string encode() const;
  static Result<SharePartition> decode(std::string_view bytes);

 private:
  // A failed delivery: back to available, or to the dead-letter topic when
  // it was the last allowed.
  void fail_delivery(InFlightRecord& record, std::string_view reason, const SharePartitionLimits& limits);
  void advance_start();

  Offset start_;
  Offset end_;
  std::map<Offset, InFlightRecord> records_;
};

}  // namespace cairn::broker
