#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cairn/client_options.h"
#include "proto/status.h"
#include "proto/strong_int.h"

namespace cairn {

struct PartitionDescription {
  int32_t partition = 0;
  int32_t leader = -1;
  std::vector<int32_t> replicas;
  Offset log_start_offset;
  Offset high_watermark;
  Offset log_end_offset;
  int64_t size_bytes = 0;
  int32_t segments = 0;
};

struct TopicDescription {
  std::string name;
  std::vector<PartitionDescription> partitions;
  std::map<std::string, std::string> configs;
};

// Where to look up an offset.
struct OffsetSpec {
  enum class Kind { earliest, latest, timestamp } kind = Kind::latest;
  int64_t timestamp_ms = 0;

  static OffsetSpec earliest() { return {Kind::earliest, 0}; }
  static OffsetSpec latest() { return {Kind::latest, 0}; }
  static OffsetSpec at_time(int64_t ms) { return {Kind::timestamp, ms}; }
};

// Topics, configs and offsets. Each call is one blocking RPC to a broker,
// bounded by ClientOptions::request_timeout_ms. Thread-safe.
class Admin {
 public:
  static Result<std::unique_ptr<Admin>> connect(ClientOptions options);
  virtual ~Admin() = default;

  virtual Status create_topic(const std::string& name, int32_t partitions,
                              const std::map<std::string, std::string>& configs = {}) = 0;
  virtual Status delete_topic(const std::string& name) = 0;
  virtual Result<std::vector<std::string>> list_topics(bool include_internal = false) = 0;
  virtual Result<TopicDescription> describe_topic(const std::string& name) = 0;
  virtual Status alter_topic_configs(const std::string& name,
                                     const std::map<std::string, std::string>& set) = 0;
  // earliest: the log start; latest: the high watermark; timestamp: the
  // first offset at or after it (the high watermark if none).
  virtual Result<Offset> list_offset(const std::string& topic, int32_t partition,
                                     OffsetSpec spec) = 0;
};

}  // namespace cairn
