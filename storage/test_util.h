#pragma once

// Helpers shared by the storage tests: batches, temp folders, a store over a
// fault-injecting Env with a manual clock.

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>

#include "proto/assert.h"
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
//
// A power loss must also take from the RocksDB index what was not synced:
// the fixture copies the index after every synced write (the worst case:
// every later unsynced write is lost) and crash() puts that copy back.
// StoreFixture's argument for tests that simulate a power loss.
constexpr bool kModelPowerLoss = true;

struct StoreFixture {
  TempDir dir;
  TempDir synced_index;  // holds "copy", the index as of its last synced write
  FaultInjectionEnv env;
  ManualClock clock;
  std::unique_ptr<Store> store;
  TopicPartition tp{"events", 0};

  // With `power_loss`, crash(CrashMode::power_loss) can be used: the index
  // is copied after every synced write, which costs a few milliseconds each.
  explicit StoreFixture(bool power_loss = false) : models_power_loss(power_loss) { reopen(); }
  const bool models_power_loss;
  ScrubOptions scrub;  // for the next reopen(); off by default

  std::string index_dir() const { return dir.path() + "/.index"; }
  std::string index_copy() const { return synced_index.path() + "/copy"; }

  void reopen() {
    store.reset();
    StoreOptions options;
    options.data_dir = dir.path();
    options.env = &env;
    options.clock = &clock;
    options.retention_check_interval_ms = 0;
    options.scrub = scrub;
    // The index lives on the real disk; the Env only needs its folder.
    REQUIRE(env.create_dirs(dir.path()).ok());
    auto opened = Store::open(options);
    REQUIRE(opened.ok());
    store = std::move(*opened);
    if (!models_power_loss) return;
    IndexStore& index = store->index();
    index.set_synced_write_listener([this, &index] {
      std::filesystem::remove_all(index_copy());
      Status copied = index.checkpoint(index_copy());
      CAIRN_ASSERT(copied.ok());
    });
  }

  // Ends the store as `mode` would (the store and its logs must be released
  // by the caller first), then opens it again.
  void crash(CrashMode mode, std::mt19937_64* rng = nullptr) {
    CAIRN_ASSERT(mode == CrashMode::process || models_power_loss);
    store.reset();
    env.crash(mode, rng);
    if (mode == CrashMode::power_loss) {
      std::filesystem::remove_all(index_dir());
      if (std::filesystem::exists(index_copy())) {
        std::filesystem::copy(index_copy(), index_dir(), std::filesystem::copy_options::recursive);
      }
    }
    reopen();
  }

  std::shared_ptr<PartitionLog> log(const LogConfig& config = {}) {
    auto opened = store->open_partition(tp, config);
    REQUIRE(opened.ok());
    return *opened;
  }

  std::string segment_path(Offset base) const {
    return fmt::format("{}/{}/{}/{}", dir.path(), tp.topic, tp.partition, segment_file_name(base));
  }
  // The partition's segment files, oldest first.
  std::vector<std::string> segment_paths() {
    std::vector<std::string> out;
    std::string folder = fmt::format("{}/{}/{}", dir.path(), tp.topic, tp.partition);
    auto names = env.list_dir(folder);
    REQUIRE(names.ok());
    for (const auto& name : *names) {
      if (parse_segment_file_name(name)) out.push_back(folder + "/" + name);
    }
    std::sort(out.begin(), out.end());
    return out;
  }
};

inline AppendResult append(PartitionLog& log, std::string batch, Term term = Term(1)) {
  auto result = log.append(as_bytes(batch), term);
  REQUIRE(result.ok());
  return *result;
}

// Syncs only when told: nothing the test appends after flush_now() is durable.
inline LogConfig manual_flush_config(std::map<std::string, std::string> extra = {}) {
  extra.insert({{"flush.policy", "interval"}, {"flush.ms", "1000000000"},
                {"flush.bytes", "1000000000"}});
  return *LogConfig().with(extra);
}

// The values of every record in the log, in offset order.
inline std::vector<std::string> values_of(PartitionLog& log) {
  std::vector<std::string> out;
  Offset next = log.log_start();
  while (next < log.log_end()) {
    auto read = log.read(next, 1 << 20, Offset::max());
    REQUIRE(read.ok());
    REQUIRE(read->next_offset > next);
    for (const auto& r : decode_all(read->bytes)) out.push_back(*r.value);
    next = read->next_offset;
  }
  return out;
}

}  // namespace cairn::storage::testing

namespace Catch {
template <typename Tag>
struct StringMaker<cairn::StrongInt<Tag>> {
  static std::string convert(cairn::StrongInt<Tag> v) { return std::to_string(v.value); }
};
}  // namespace Catch
