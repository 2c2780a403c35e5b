#pragma once

#include <grpcpp/support/status.h>

#include "cairn/v1/types.pb.h"
#include "proto/status.h"

namespace cairn {

// Conversions between Status and the wire: per-partition errors travel as
// cairn.v1.Error, whole-request failures as gRPC status codes.

void to_proto(const Status& status, v1::Error* out);
Status from_proto(const v1::Error& error);

grpc::Status to_grpc(const Status& status);
// A failed RPC as a Status; the message keeps what gRPC said.
Status from_grpc(const grpc::Status& status);

}  // namespace cairn
