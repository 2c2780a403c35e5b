#pragma once

#include "cairn/record.h"
#include "cairn/v1/types.pb.h"

namespace cairn {

// Records as gRPC messages, for clients that do not speak the batch format
// (Fetch with as_records, share groups' acquired records).
void to_proto(Record record, v1::Record* out);
Record from_proto(const v1::Record& in);

}  // namespace cairn
