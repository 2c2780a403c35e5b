// Fuzzes what produce and fetch do to a partition, below the gRPC layer:
// hostile batches go to PartitionLog::append (as ProduceHandler sends them),
// then everything is read back (as Fetch does) and decoded (as consumers
// and the broker's protobuf conversion do).
//
// The input is a sequence of batches, each a 2-byte big-endian length and
// then that many bytes; each batch gets its length and CRC fields fixed up,
// so the fuzzer explores records rather than checksums. Property: every
// batch the log accepted reads back and decodes, with offsets contiguous
// from where the input started; a refused batch leaves the log as it was;
// the whole input appended as one request is accepted exactly when every
// batch alone was, and otherwise leaves the log as it was.
// One store over a temp folder serves every input; each input's appends are
// truncated away afterwards, so the log stays small.
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "proto/batch_test_util.h"
#include "proto/byte_io.h"
#include "proto/record_batch.h"
#include "storage/store.h"
#include "proto/assert.h"

namespace {

using namespace cairn;
using cairn::testing::reseal;

struct Fixture {
  std::string dir = (std::filesystem::temp_directory_path() /
                     ("cairn-fuzz-log-" + std::to_string(::getpid())))
                        .string();
  std::unique_ptr<storage::Store> store;
  std::shared_ptr<storage::PartitionLog> log;

  Fixture() {
    std::filesystem::remove_all(dir);
    storage::StoreOptions options;
    options.data_dir = dir;
    options.retention_check_interval_ms = 0;
    auto opened = storage::Store::open(options);
    CAIRN_ASSERT(opened.ok());
    store = std::move(*opened);
    // Interval flushing with far-off limits: no fsync per input.
    auto config = storage::LogConfig().with({{"max.message.bytes", "65536"},
                                             {"flush.policy", "interval"},
                                             {"flush.ms", "3600000"},
                                             {"flush.bytes", "1073741824"}});
    CAIRN_ASSERT(config.ok());
    auto partition = store->open_partition({"fuzz", 0}, *config);
    CAIRN_ASSERT(partition.ok());
    log = *partition;
  }
};

Fixture& fixture() {
  static Fixture* f = new Fixture();  // lives for the process: libFuzzer never returns
  return *f;
}

// The framed batches of the input, each with its length and CRC fixed up.
std::vector<std::string> batches_of(std::string_view input) {
  std::vector<std::string> batches;
  while (input.size() >= 2) {
    size_t length = (static_cast<uint8_t>(input[0]) << 8) | static_cast<uint8_t>(input[1]);
    input.remove_prefix(2);
    length = std::min(length, input.size());
    batches.emplace_back(input.substr(0, length));
    reseal(batches.back());
    input.remove_prefix(length);
  }
  return batches;
}

// Appends each batch alone; returns how many records landed and whether
// every batch was accepted.
std::pair<int64_t, bool> append_each(storage::PartitionLog& log,
                                     const std::vector<std::string>& batches) {
  int64_t appended_records = 0;
  bool all_accepted = true;
  for (const auto& batch : batches) {
    Offset before = log.log_end();
    auto appended = log.append(as_bytes(batch), Term(1));
    if (!appended.ok()) {
      CAIRN_ASSERT(log.log_end() == before);
      all_accepted = false;
      continue;
    }
    CAIRN_ASSERT(appended->base_offset == before);
    appended_records += appended->last_offset.value - before.value + 1;
  }
  return {appended_records, all_accepted};
}

// Reads [from, log end) back and decodes every batch.
void read_back(const storage::PartitionLog& log, Offset from, int64_t records) {
  Offset next = from;
  while (next < log.log_end()) {
    auto read = log.read(next, 1 << 20, Offset::max());
    CAIRN_ASSERT(read.ok() && read->next_offset > next);
    auto data = as_bytes(read->bytes);
    while (!data.empty()) {
      auto header = parse_batch_header(data, data.size());
      CAIRN_ASSERT(header.ok());
      auto decoded = decode_batch(data.subspan(0, header->size_bytes()));
      CAIRN_ASSERT(decoded.ok());
      for (const Record& r : *decoded) {
        CAIRN_ASSERT(r.offset == next);
        next = next + 1;
      }
      data = data.subspan(header->size_bytes());
    }
  }
  CAIRN_ASSERT(next.value - from.value == records);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  storage::PartitionLog& log = *fixture().log;
  auto batches = batches_of({reinterpret_cast<const char*>(data), size});
  Offset start = log.log_end();
  auto [records, all_accepted] = append_each(log, batches);
  read_back(log, start, records);
  CAIRN_ASSERT(log.truncate_suffix(start).ok());
  if (batches.empty()) return 0;

  // As one request (what ProduceHandler sends): all or nothing, accepted
  // exactly when each batch alone was.
  std::vector<std::span<const std::byte>> request;
  for (const auto& batch : batches) request.push_back(as_bytes(batch));
  auto whole = log.append(request, Term(1));
  CAIRN_ASSERT(whole.ok() == all_accepted);
  CAIRN_ASSERT(log.log_end() == (whole.ok() ? start + records : start));
  if (whole.ok()) read_back(log, start, records);
  CAIRN_ASSERT(log.truncate_suffix(start).ok());
  return 0;
}
