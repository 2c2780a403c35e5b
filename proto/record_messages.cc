#include "proto/record_messages.h"

namespace cairn {

void to_proto(Record record, v1::Record* out) {
  if (record.key) out->set_key(std::move(*record.key));
  if (record.value) out->set_value(std::move(*record.value));
  for (auto& h : record.headers) {
    auto* header = out->add_headers();
    header->set_key(std::move(h.key));
    if (h.value) header->set_value(std::move(*h.value));
  }
  out->set_timestamp_ms(record.timestamp_ms);
  out->set_offset(record.offset.value);
}

Record from_proto(const v1::Record& in) {
  Record out;
  if (in.has_key()) out.key = in.key();
  if (in.has_value()) out.value = in.value();
  for (const auto& h : in.headers()) {
    out.headers.push_back({h.key(), h.has_value() ? std::optional<std::string>(h.value()) : std::nullopt});
  }
  out.timestamp_ms = in.timestamp_ms();
  out.offset = Offset(in.offset());
  return out;
}

}  // namespace cairn
