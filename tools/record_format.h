#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "cairn/record.h"

namespace cairn::tools {

// How the consuming commands print a record: its value on a line, after
// what the --print-* flags ask for (tab-separated), or one JSON object per
// line with --format json.
struct RecordFormat {
  bool key = false;
  bool offset = false;
  bool headers = false;
  bool timestamp = false;
  std::string format = "text";

  // --print-key, --print-offset, --print-timestamp, --print-headers, --format.
  void add_to(CLI::App& command);
  // One line, newline included.
  std::string line(const std::string& topic, int32_t partition, const Record& record) const;
};

}  // namespace cairn::tools
