#pragma once

#include <cstdint>
#include <string_view>

namespace cairn {

// Typed error codes shared by every module and carried on the wire. The
// numeric values are part of the protocol: never renumber, only append.
enum class ErrorCode : int32_t {
  ok = 0,
  unknown = 1,                     // a bug or an unexpected state; see the message
  invalid_request = 2,             // the caller sent something malformed
  corrupt_batch = 3,               // a record batch failed length, magic or CRC checks
  record_too_large = 4,            // a batch exceeds max.message.bytes
  offset_out_of_range = 5,         // below the log start or beyond the log end
  unknown_topic_or_partition = 6,  // no such topic or partition here
  not_leader = 7,                  // this broker does not lead the partition
  request_timed_out = 8,           // a deadline passed before the work finished
  io_error = 9,                    // the disk refused a read, write or sync
  storage_corrupt = 10,            // stored data failed verification
  topic_already_exists = 11,
  invalid_config = 12,             // a config key is unknown or its value invalid
  shutting_down = 13,              // the component is closing
  resource_exhausted = 14,         // a bound (memory, in-flight bytes) was reached
  invalid_topic = 15,              // a topic name breaks the naming rules
  broker_unavailable = 16,         // no connection to the broker (down, or wrong address)
  unknown_member_id = 17,          // the group does not know this member (expired, or left)
  stale_member_epoch = 18,         // the member's epoch is not current: it was fenced
  group_not_empty = 19,            // the group has active members
  group_not_found = 20,
  internal_topic = 21,             // the broker owns this topic: clients may not write, delete or alter it
  woken_up = 22,                   // Consumer::wakeup() interrupted a blocked call (client side only)
  // Idempotent producers (docs/idempotence.md). A batch whose sequence
  // leaves a gap after the producer's last one: it was not written.
  out_of_order_sequence = 23,
  // A batch from an older epoch of a producer id a newer epoch wrote to
  // the partition: it was fenced, not written.
  invalid_producer_epoch = 24,
  // A retried batch older than the last few the partition remembers of its
  // producer: written before, at offsets no longer known.
  duplicate_sequence = 25,
  // Share groups: the member does not hold the record (its lock expired and
  // it went back to the queue, or it was acknowledged already).
  record_not_acquired = 26,
  unsupported = 27,                // this broker cannot do it yet; the message says what can
};

// The snake_case name of a code, as it appears in logs and in the protocol.
std::string_view error_code_name(ErrorCode code);

// Whether a client may retry the same request and expect it to succeed.
bool is_retriable(ErrorCode code);

}  // namespace cairn
