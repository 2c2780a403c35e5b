#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cairn/strong_int.h"

namespace cairn {

// One key/value pair attached to a record.
struct RecordHeader {
  std::string key;
  std::optional<std::string> value;
  bool operator==(const RecordHeader&) const = default;
};

// A decoded record. A null value is a tombstone (compacted topics).
struct Record {
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<RecordHeader> headers;
  int64_t timestamp_ms = 0;
  Offset offset;
  bool operator==(const Record&) const = default;
};

}  // namespace cairn
