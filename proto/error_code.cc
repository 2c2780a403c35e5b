#include "cairn/error_code.h"

namespace cairn {

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::ok: return "ok";
    case ErrorCode::unknown: return "unknown";
    case ErrorCode::invalid_request: return "invalid_request";
    case ErrorCode::corrupt_batch: return "corrupt_batch";
    case ErrorCode::record_too_large: return "record_too_large";
    case ErrorCode::offset_out_of_range: return "offset_out_of_range";
    case ErrorCode::unknown_topic_or_partition: return "unknown_topic_or_partition";
    case ErrorCode::not_leader: return "not_leader";
    case ErrorCode::request_timed_out: return "request_timed_out";
    case ErrorCode::io_error: return "io_error";
    case ErrorCode::storage_corrupt: return "storage_corrupt";
    case ErrorCode::topic_already_exists: return "topic_already_exists";
    case ErrorCode::invalid_config: return "invalid_config";
    case ErrorCode::shutting_down: return "shutting_down";
    case ErrorCode::resource_exhausted: return "resource_exhausted";
    case ErrorCode::invalid_topic: return "invalid_topic";
    case ErrorCode::broker_unavailable: return "broker_unavailable";
    case ErrorCode::unknown_member_id: return "unknown_member_id";
    case ErrorCode::stale_member_epoch: return "stale_member_epoch";
    case ErrorCode::group_not_empty: return "group_not_empty";
    case ErrorCode::group_not_found: return "group_not_found";
    case ErrorCode::internal_topic: return "internal_topic";
    case ErrorCode::woken_up: return "woken_up";
    case ErrorCode::out_of_order_sequence: return "out_of_order_sequence";
    case ErrorCode::invalid_producer_epoch: return "invalid_producer_epoch";
    case ErrorCode::duplicate_sequence: return "duplicate_sequence";
    case ErrorCode::record_not_acquired: return "record_not_acquired";
    case ErrorCode::unsupported: return "unsupported";
  }
  return "unrecognised_error_code";
}

bool is_retriable(ErrorCode code) {
  switch (code) {
    case ErrorCode::not_leader:
    case ErrorCode::request_timed_out:
    case ErrorCode::shutting_down:
    case ErrorCode::broker_unavailable:
    case ErrorCode::resource_exhausted:
    case ErrorCode::unknown_topic_or_partition:  // metadata may be catching up
    // A broker whose disk failed (full, say) stops its replicas of the
    // partition and another leads it soon, as with Kafka's storage error.
    case ErrorCode::io_error:
      return true;
    default:
      return false;
  }
}

}  // namespace cairn
