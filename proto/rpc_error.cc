#include "proto/rpc_error.h"

namespace cairn {

void to_proto(const Status& status, v1::Error* out) {
  out->set_code(static_cast<v1::ErrorCode>(status.code()));
  out->set_message(status.message());
}

Status from_proto(const v1::Error& error) {
  if (error.code() == v1::NONE) return {};
  return Status(static_cast<ErrorCode>(error.code()), error.message());
}

grpc::Status to_grpc(const Status& status) {
  grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
  switch (status.code()) {
    case ErrorCode::ok: return grpc::Status::OK;
    case ErrorCode::invalid_request:
    case ErrorCode::corrupt_batch:
    case ErrorCode::record_too_large:
    case ErrorCode::invalid_config:
    case ErrorCode::invalid_topic: code = grpc::StatusCode::INVALID_ARGUMENT; break;
    case ErrorCode::offset_out_of_range: code = grpc::StatusCode::OUT_OF_RANGE; break;
    case ErrorCode::unknown_topic_or_partition:
    case ErrorCode::group_not_found: code = grpc::StatusCode::NOT_FOUND; break;
    case ErrorCode::unknown_member_id:
    case ErrorCode::stale_member_epoch:
    case ErrorCode::out_of_order_sequence:
    case ErrorCode::invalid_producer_epoch:
    case ErrorCode::duplicate_sequence:
    case ErrorCode::record_not_acquired:
    case ErrorCode::group_not_empty: code = grpc::StatusCode::FAILED_PRECONDITION; break;
    case ErrorCode::topic_already_exists: code = grpc::StatusCode::ALREADY_EXISTS; break;
    case ErrorCode::internal_topic: code = grpc::StatusCode::PERMISSION_DENIED; break;
    case ErrorCode::woken_up: code = grpc::StatusCode::CANCELLED; break;
    case ErrorCode::not_leader:
    case ErrorCode::broker_unavailable:
    case ErrorCode::shutting_down: code = grpc::StatusCode::UNAVAILABLE; break;
    case ErrorCode::request_timed_out: code = grpc::StatusCode::DEADLINE_EXCEEDED; break;
    case ErrorCode::resource_exhausted: code = grpc::StatusCode::RESOURCE_EXHAUSTED; break;
    case ErrorCode::io_error:
    case ErrorCode::storage_corrupt: code = grpc::StatusCode::INTERNAL; break;
    case ErrorCode::unsupported: code = grpc::StatusCode::UNIMPLEMENTED; break;
    case ErrorCode::unknown: code = grpc::StatusCode::UNKNOWN; break;
  }
  return grpc::Status(code, status.to_string());
}

Status from_grpc(const grpc::Status& status) {
  if (status.ok()) return {};
  ErrorCode code = ErrorCode::unknown;
  switch (status.error_code()) {
    case grpc::StatusCode::INVALID_ARGUMENT: code = ErrorCode::invalid_request; break;
    case grpc::StatusCode::NOT_FOUND: code = ErrorCode::unknown_topic_or_partition; break;
    case grpc::StatusCode::OUT_OF_RANGE: code = ErrorCode::offset_out_of_range; break;
    case grpc::StatusCode::ALREADY_EXISTS: code = ErrorCode::topic_already_exists; break;
    case grpc::StatusCode::DEADLINE_EXCEEDED: code = ErrorCode::request_timed_out; break;
    case grpc::StatusCode::RESOURCE_EXHAUSTED: code = ErrorCode::resource_exhausted; break;
    case grpc::StatusCode::UNAVAILABLE: code = ErrorCode::broker_unavailable; break;
    case grpc::StatusCode::CANCELLED: code = ErrorCode::shutting_down; break;
    case grpc::StatusCode::INTERNAL: code = ErrorCode::io_error; break;
    default: break;
  }
  return Status(code, status.error_message());
}

}  // namespace cairn
