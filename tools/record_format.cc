#include "tools/record_format.h"

#include <fmt/format.h>

#include "tools/cli_common.h"
#include "tools/json.h"

namespace cairn::tools {

void RecordFormat::add_to(CLI::App& command) {
  command.add_flag("--print-key", key, "print KEY<tab> before each value");
  command.add_flag("--print-offset", offset, "print PARTITION:OFFSET<tab> before each value");
  command.add_flag("--print-timestamp", timestamp, "print the record's UNIX_MS<tab> before each value");
  command.add_flag("--print-headers", headers, "print its headers as K=V,K=V<tab> (- if none) before each value");
  add_format_option(command, format,
                    "one object per line with topic, partition, offset, timestamp_ms, key, value and headers "
                    "(null for a null key or value); text is shaped by --print-*");
}

std::string RecordFormat::line(const std::string& topic, int32_t partition, const Record& r) const {
  if (format == "json") {
    std::string hs;
    for (const auto& h : r.headers) {
      hs += fmt::format("{}{{\"key\":{},\"value\":{}}}", hs.empty() ? "" : ",", json_string(h.key),
                        json_nullable(h.value));
    }
    return fmt::format(R"({{"topic":{},"partition":{},"offset":{},"timestamp_ms":{},"key":{},"value":{},"headers":[{}]}})"
                       "\n",
                       json_string(topic), partition, r.offset.value, r.timestamp_ms, json_nullable(r.key),
                       json_nullable(r.value), hs);
  }
  std::string out;
  if (offset) out += fmt::format("{}:{}\t", partition, r.offset.value);
  if (timestamp) out += fmt::format("{}\t", r.timestamp_ms);
  if (key) out += (r.key ? *r.key : "null") + "\t";
  if (headers) {
    std::string hs;
    for (const auto& h : r.headers) hs += fmt::format("{}{}={}", hs.empty() ? "" : ",", h.key, h.value.value_or("null"));
    out += (r.headers.empty() ? "-" : hs) + "\t";
  }
  out += r.value ? *r.value : "null";
  out += '\n';
  return out;
}

}  // namespace cairn::tools
