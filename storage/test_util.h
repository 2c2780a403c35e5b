#pragma once

// Helpers shared by the storage tests: batches, temp folders, a store over a
// fault-injecting Env with a manual clock.

#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include "proto/byte_io.h"
#include "proto/record_batch.h"
#include "storage/clock.h"
#include "storage/fault_injection_env.h"
#include "storage/store.h"

namespace cairn::storage::testing {

// A fresh folder under the system temp folder, removed on destruction.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = (std::filesystem::temp_directory_path() / ("cairn-test-" + std::to_string(rd()))).string();
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A batch of `count` records "<tag>-<i>" with timestamps ts, ts+1, ...
inline std::string make_batch(int count, int64_t timestamp_ms, const std::string& tag = "r",
                              size_t value_bytes = 0) {
  RecordBatchBuilder builder;
  for (int i = 0; i < count; ++i) {
    std::string value = tag + "-" + std::to_string(i);
    if (value.size() < value_bytes) value.resize(value_bytes, 'x');
    builder.add(std::nullopt, value, {}, timestamp_ms + i);
  }
  auto batch = builder.build();
  return std::move(batch).value();
}

// Decodes all records of a read, in order.
inline std::vector<Record> decode_all(const std::string& bytes) {
  std::vector<Record> out;
  auto data = as_bytes(bytes);
  while (!data.empty()) {
    auto header = parse_batch_header(data, data.size());
    if (!header.ok()) throw std::runtime_error(header.status().to_string());
    auto records = decode_batch(data.subspan(0, header->size_bytes()));
    if (!records.ok()) throw std::runtime_error(records.status().to_string());
    out.insert(out.end(), records->begin(), records->end());
    data = data.subspan(header->size_bytes());
  }
  return out;
}

// A store whose segments live in a FaultInjectionEnv (crashable) and whose
// index lives in a real temp folder. Background threads are on unless the
// test drives retention itself.
struct StoreFixture {
  TempDir dir;
  FaultInjectionEnv env;
  ManualClock clock;
  std::unique_ptr<Store> store;
  TopicPartition tp{"events", 0};

  StoreFixture() { reopen(); }

  void reopen() {
    store.reset();
    StoreOptions options;
    options.data_dir = dir.path();
    options.env = &env;
    options.clock = &clock;
    options.retention_check_interval_ms = 0;
    // The index lives on the real disk; the Env only needs its folder.
    REQUIRE(env.create_dirs(dir.path()).ok());
    auto opened = Store::open(options);
    REQUIRE(opened.ok());
    store = std::move(*opened);
  }

  std::shared_ptr<PartitionLog> log(const LogConfig& config = {}) {
    auto opened = store->open_partition(tp, config);
    REQUIRE(opened.ok());
    return *opened;
  }

  std::string segment_path(Offset base) const {
    return fmt::format("{}/{}/{}/{}", dir.path(), tp.topic, tp.partition, segment_file_name(base));
  }
};

inline AppendResult append(PartitionLog& log, std::string batch, Term term = Term(1)) {
  auto result = log.append(as_bytes(batch), term);
  REQUIRE(result.ok());
  return *result;
}

}  // namespace cairn::storage::testing

namespace Catch {
template <typename Tag>
struct StringMaker<cairn::StrongInt<Tag>> {
  static std::string convert(cairn::StrongInt<Tag> v) { return std::to_string(v.value); }
};
}  // namespace Catch
