#include "proto/control_batch.h"

#include "proto/byte_io.h"

namespace cairn {

namespace {

constexpr int16_t kControlKeyVersion = 0;
constexpr size_t kControlKeySize = 4;

}  // namespace

Result<std::string> build_control_batch(ControlType type, std::string_view value,
                                        int64_t timestamp_ms) {
  std::string key;
  append_be<int16_t>(key, kControlKeyVersion);
  append_be<int16_t>(key, static_cast<int16_t>(type));
  RecordBatchBuilder builder;
  builder.set_control();
  builder.add(key, value, {}, timestamp_ms);
  return builder.build();
}

std::optional<ControlType> control_type_of(const Record& record) {
  if (!record.key || record.key->size() != kControlKeySize) return std::nullopt;
  auto key = as_bytes(*record.key);
  if (load_be<int16_t>(key.data()) != kControlKeyVersion) return std::nullopt;
  auto type = static_cast<ControlType>(load_be<int16_t>(key.data() + 2));
  if (type != ControlType::leader_change && type != ControlType::voters) return std::nullopt;
  return type;
}

}  // namespace cairn
