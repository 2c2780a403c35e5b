#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "proto/record_batch.h"
#include "proto/status.h"

namespace cairn {

// Control batches carry the broker's own log entries (consensus no-ops and
// membership changes), as Kafka's control batches carry transaction markers
// and KRaft's its leader changes and voter sets. They take offsets like any
// batch, but producers may not write them and consumers never see their
// records: a reader moves past them. Each holds one record whose key is
// (int16 version 0, int16 type), as in Kafka; its value is the type's.
enum class ControlType : int16_t {
  leader_change = 2,  // a new leader's first entry (Raft's no-op); no value
  voters = 6,         // a membership change; value: raft::Membership::encode()
};

// One control batch of `type` (base offset 0: the log stamps it).
Result<std::string> build_control_batch(ControlType type, std::string_view value,
                                        int64_t timestamp_ms);

// The type of a control batch's record; none if its key is not one.
std::optional<ControlType> control_type_of(const Record& record);

}  // namespace cairn
