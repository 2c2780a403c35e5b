#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "storage/segment_check.h"
#include "storage/test_util.h"

using namespace cairn;
using namespace cairn::storage;
using namespace cairn::storage::testing;

namespace {

constexpr int64_t kHourMs = 3600 * 1000;
constexpr int kKeys = 13;

using KeyValue = std::pair<std::string, std::optional<std::string>>;

LogConfig compact_config(std::map<std::string, std::string> extra = {}) {
  extra.emplace("cleanup.policy", "compact");
  extra.emplace("segment.bytes", "4096");
  return *LogConfig().with(extra);
}

std::string keyed_batch(const std::vector<KeyValue>& records, int64_t timestamp_ms) {
  RecordBatchBuilder builder;
  for (const auto& [key, value] : records) builder.add(key, value, {}, timestamp_ms);
  return std::move(builder.build()).value();
}

// The record at offset `o` of a log filled by append_updates: key and value
// follow from the offset, so concurrent readers can check what they read.
std::string key_at(int64_t o) { return "k" + std::to_string(o % kKeys); }
std::string value_at(int64_t o) { return "v" + std::to_string(o) + std::string(40, 'x'); }

// Appends `batches` batches of 5 records (one appender at a time).
void append_updates(PartitionLog& log, int batches, int64_t timestamp_ms) {
  for (int b = 0; b < batches; ++b) {
    std::vector<KeyValue> records;
    int64_t base = log.log_end().value;
    for (int64_t o = base; o < base + 5; ++o) records.emplace_back(key_at(o), value_at(o));
    append(log, keyed_batch(records, timestamp_ms));
  }
}

// Every record from the log start to the end, in the order read, or what
// went wrong. Free of Catch assertions, which are not thread-safe.
Result<std::vector<Record>> try_read_all(const PartitionLog& log) {
  std::vector<Record> out;
  Offset next = log.log_start();
  Offset end = log.log_end();
  while (next < end) {
    auto read = log.read(next, 64 * 1024, Offset::max());
    if (!read.ok()) return read.status();
    if (read->next_offset <= next) {
      return error(ErrorCode::storage_corrupt, "read at {} did not progress", next.value);
    }
    for (auto& record : decode_all(read->bytes)) out.push_back(std::move(record));
    next = read->next_offset;
  }
  return out;
}

std::vector<Record> read_all(const PartitionLog& log) {
  auto records = try_read_all(log);
  REQUIRE(records.ok());
  return std::move(*records);
}

// What a reader may always rely on in a log filled by append_updates:
// offsets increase, and each record is the one appended at its offset.
// Returns the first violation, or an empty string; fills `newest` with the
// newest offset seen of each key. Thread-safe.
std::string problem_in(const std::vector<Record>& records,
                       std::map<std::string, int64_t>* newest = nullptr) {
  int64_t previous = -1;
  for (const Record& r : records) {
    int64_t o = r.offset.value;
    if (o <= previous) return fmt::format("offset {} after {}", o, previous);
    if (r.key != key_at(o) || r.value != value_at(o)) return fmt::format("wrong record at {}", o);
    previous = o;
    if (newest) (*newest)[*r.key] = o;
  }
  return "";
}

// ...and, once appends have stopped at `end`, each key's newest record is
// there.
void check_consistent(const std::vector<Record>& records, int64_t end) {
  std::map<std::string, int64_t> newest;
  REQUIRE(problem_in(records, &newest).empty());
  for (int64_t o = std::max<int64_t>(0, end - kKeys); o < end; ++o) {
    CAPTURE(o);
    CHECK(newest[key_at(o)] == o);
  }
}

}  // namespace

TEST_CASE("CleanupPolicyAndDeleteRetentionAreConfigs", "[compaction]") {
  auto both = LogConfig().with({{"cleanup.policy", "delete,compact"}});
  REQUIRE(both.ok());
  CHECK(both->cleanup_policy == CleanupPolicy::compact_and_delete);
  CHECK(both->to_map().at("cleanup.policy") == "compact,delete");
  CHECK(LogConfig().to_map().at("cleanup.policy") == "delete");
  CHECK(LogConfig().to_map().at("delete.retention.ms") == "86400000");
  CHECK(LogConfig().with({{"cleanup.policy", "shred"}}).status().code() ==
        ErrorCode::invalid_config);
  CHECK(LogConfig().with({{"delete.retention.ms", "-1"}}).status().code() ==
        ErrorCode::invalid_config);
}

TEST_CASE("KeyedLogCompactsToTheNewestValuePerKeyWithOffsetsUnchanged", "[compaction]") {
  StoreFixture f;
  auto log = f.log(compact_config());
  append_updates(*log, 200, f.clock.now_ms());
  REQUIRE(log->roll().ok());
  append_updates(*log, 1, f.clock.now_ms());
  REQUIRE(log->flush_now().ok());
  Offset end = log->log_end();
  uint64_t size_before = log->size_bytes();
  size_t segments = log->segment_count();
  REQUIRE(segments > 5);

  auto result = log->compact();
  REQUIRE(result.ok());
  CHECK(result->segments_cleaned == segments - 1);
  CHECK(result->bytes_after < result->bytes_before);
  CHECK(log->size_bytes() == size_before - (result->bytes_before - result->bytes_after));
  CHECK(log->log_end() == end);
  CHECK(log->segment_count() == segments);

  auto records = read_all(*log);
  check_consistent(records, end.value);
  CHECK(static_cast<int64_t>(records.size()) == end.value - result->records_removed);
  // What remains beyond each key's newest: at most each closed segment's
  // last record, kept so that the segment still ends where it did.
  CHECK(records.size() <= kKeys + 5 + segments);

  // Appends go on at the same offsets, and a second pass finds nothing new.
  CHECK(append(*log, keyed_batch({{"k0", "late"}}, f.clock.now_ms())).base_offset == end);
  REQUIRE(log->flush_now().ok());
  CHECK(log->compact()->segments_cleaned == 0);
}

TEST_CASE("ReadInsideACompactionGapReturnsTheNextBatch", "[compaction]") {
  StoreFixture f;
  auto log = f.log(compact_config());
  // Offsets 0-2 are superseded by 3-5, and 6 ends the segment.
  append(*log, keyed_batch({{"a", "1"}, {"b", "1"}, {"c", "1"}}, f.clock.now_ms()));
  append(*log, keyed_batch({{"a", "2"}, {"b", "2"}, {"c", "2"}}, f.clock.now_ms()));
  append(*log, keyed_batch({{"d", "1"}}, f.clock.now_ms()));
  REQUIRE(log->roll().ok());
  append(*log, keyed_batch({{"e", "1"}}, f.clock.now_ms()));
  REQUIRE(log->flush_now().ok());
  REQUIRE(log->compact()->records_removed == 3);

  auto read = log->read(Offset(1), 1 << 20, Offset::max());
  REQUIRE(read.ok());
  auto records = decode_all(read->bytes);
  REQUIRE_FALSE(records.empty());
  CHECK(records.front().offset == Offset(3));
  CHECK(*records.front().value == "2");

  // Below the compacted segments truncation is refused, gap or no gap (a
  // cut inside a gap would leave the log ending at 0 after a restart).
  CHECK(log->compacted_end() == Offset(7));
  CHECK(log->truncate_suffix(Offset(2)).code() == ErrorCode::invalid_request);
  CHECK(log->truncate_suffix(Offset(3)).code() == ErrorCode::invalid_request);
  REQUIRE(log->truncate_suffix(Offset(7)).ok());
  CHECK(log->log_end() == Offset(7));
  CHECK(append(*log, keyed_batch({{"f", "1"}}, f.clock.now_ms())).base_offset == Offset(7));
  // The bound survives a restart.
  log.reset();
  REQUIRE(f.store->close().ok());
  f.reopen();
  CHECK(f.log(compact_config())->compacted_end() == Offset(7));
  // And a lost index: the bounds file beside the segments keeps it.
  REQUIRE(f.store->close().ok());
  f.store.reset();
  std::filesystem::remove_all(f.index_dir());
  f.reopen();
  CHECK(f.log(compact_config())->compacted_end() == Offset(7));
}

TEST_CASE("ActiveSegmentIsNeverCompacted", "[compaction]") {
  StoreFixture f;
  auto log = f.log(compact_config({{"segment.bytes", "1048576"}}));
  append_updates(*log, 50, f.clock.now_ms());
  REQUIRE(log->flush_now().ok());
  REQUIRE(log->segment_count() == 1);
  std::string before = *f.env.contents(f.segment_path(Offset(0)));

  auto result = log->compact();
  REQUIRE(result.ok());
  CHECK(result->segments_cleaned == 0);
  CHECK(*f.env.contents(f.segment_path(Offset(0))) == before);
}

TEST_CASE("UnflushedSegmentsAreNotCompacted", "[compaction]") {
  StoreFixture f;
  auto log = f.log(compact_config({{"flush.policy", "interval"},
                                   {"flush.ms", "1000000000"},
                                   {"flush.bytes", "1000000000"}}));
  append_updates(*log, 100, f.clock.now_ms());
  REQUIRE(log->segment_count() > 2);
  CHECK(log->compact()->segments_cleaned == 0);
  REQUIRE(log->flush_now().ok());
  CHECK(log->compact()->segments_cleaned > 0);
}

TEST_CASE("ReadersSeeAConsistentLogWhileCompactionRuns", "[compaction]") {
  StoreFixture f;
  auto log = f.log(compact_config());
  append_updates(*log, 100, f.clock.now_ms());
  REQUIRE(log->flush_now().ok());

  std::atomic<bool> appending{true};
  std::atomic<bool> stop{false};
  std::atomic<size_t> cleaned{0};
  std::atomic<int> passes{0};
  std::mutex problem_mutex;
  std::string problem;
  auto report = [&](std::string what) {
    std::lock_guard lock(problem_mutex);
    if (problem.empty()) problem = std::move(what);
  };
  std::thread compactor([&] {
    while (!stop) {
      auto result = log->compact();
      if (!result.ok()) return report(result.status().to_string());
      cleaned += result->segments_cleaned;
    }
  });
  std::thread reader([&] {
    // While appends go on, a newer record beyond what the reader saw may
    // have made an older one go: only order and identity hold here.
    while (appending || passes == 0) {
      auto records = try_read_all(*log);
      if (!records.ok()) return report(records.status().to_string());
      if (auto found = problem_in(*records); !found.empty()) return report(found);
      ++passes;
    }
  });
  for (int round = 0; round < 40; ++round) {
    append_updates(*log, 10, f.clock.now_ms());
    REQUIRE(log->flush_now().ok());
  }
  appending = false;
  reader.join();
  REQUIRE(problem.empty());
  // Appends stopped: a full read while compaction still runs sees every
  // key's newest value.
  for (int i = 0; i < 5; ++i) check_consistent(read_all(*log), log->log_end().value);
  stop = true;
  compactor.join();
  CHECK(problem.empty());
  CHECK(cleaned > 0);
  CHECK(passes > 0);
  check_consistent(read_all(*log), log->log_end().value);
}

TEST_CASE("TombstoneDisappearsOnlyAfterDeleteRetention", "[compaction]") {
  StoreFixture f;
  auto log = f.log(compact_config({{"delete.retention.ms", std::to_string(kHourMs)}}));
  append(*log, keyed_batch({{"gone", "1"}, {"kept", "1"}}, f.clock.now_ms()));
  append(*log, keyed_batch({{"gone", std::nullopt}, {"kept", "2"}}, f.clock.now_ms()));
  append_updates(*log, 100, f.clock.now_ms());  // fills and closes segments
  REQUIRE(log->roll().ok());
  append_updates(*log, 1, f.clock.now_ms());
  REQUIRE(log->flush_now().ok());
  auto records_of = [&](const std::string& key) {
    std::vector<Record> out;
    for (auto& r : read_all(*log)) {
      if (r.key == key) out.push_back(r);
    }
    return out;
  };

  REQUIRE(log->compact().ok());
  auto gone = records_of("gone");
  REQUIRE(gone.size() == 1);  // the old value went, the tombstone stays
  CHECK(gone[0].offset == Offset(2));
  CHECK_FALSE(gone[0].value.has_value());

  f.clock.advance_ms(kHourMs / 2);
  REQUIRE(log->compact().ok());
  CHECK(records_of("gone").size() == 1);

  f.clock.advance_ms(kHourMs);
  auto result = log->compact();
  REQUIRE(result.ok());
  CHECK(result->records_removed == 1);
  CHECK(records_of("gone").empty());
  CHECK(*records_of("kept").back().value == "2");
  CHECK(log->log_end() == Offset(4 + 505));
}

TEST_CASE("KeylessRecordsAreRejectedOnCompactedTopics", "[compaction]") {
  StoreFixture f;
  auto log = f.log(compact_config());
  auto keyless = make_batch(1, f.clock.now_ms());
  CHECK(log->append(as_bytes(keyless), Term(1)).status().code() == ErrorCode::invalid_request);
  RecordBatchBuilder mixed;
  mixed.add("k", "v", {}, f.clock.now_ms());
  mixed.add(std::nullopt, "v", {}, f.clock.now_ms());
  auto batch = mixed.build().value();
  CHECK(log->append(as_bytes(batch), Term(1)).status().code() == ErrorCode::invalid_request);
  CHECK(log->log_end() == Offset(0));
  CHECK(append(*log, keyed_batch({{"k", "v"}}, f.clock.now_ms())).base_offset == Offset(0));

  // A topic that only deletes takes records without keys, undecoded.
  log->set_config(LogConfig());
  CHECK(append(*log, keyless).base_offset == Offset(1));
}

TEST_CASE("RetentionSparesCompactOnlyTopics", "[compaction]") {
  auto policy = GENERATE(std::string("compact"), std::string("compact,delete"));
  CAPTURE(policy);
  StoreFixture f;
  auto log = f.log(compact_config({{"cleanup.policy", policy}, {"retention.ms", "1000"}}));
  append_updates(*log, 100, f.clock.now_ms());
  f.clock.advance_ms(kHourMs);
  size_t deleted = f.store->run_retention();
  CHECK((deleted > 0) == (policy == "compact,delete"));
}

TEST_CASE("StoreCompactsOnlyCompactedTopics", "[compaction]") {
  StoreFixture f;
  auto compacted = f.log(compact_config());
  f.tp = {"plain", 0};
  auto plain = f.log(*LogConfig().with({{"segment.bytes", "4096"}}));
  append_updates(*compacted, 100, f.clock.now_ms());
  append_updates(*plain, 100, f.clock.now_ms());
  REQUIRE(compacted->flush_now().ok());
  REQUIRE(plain->flush_now().ok());
  uint64_t plain_size = plain->size_bytes();
  uint64_t compacted_size = compacted->size_bytes();
  CHECK(f.store->run_compaction() > 0);
  CHECK(plain->size_bytes() == plain_size);
  CHECK(compacted->size_bytes() < compacted_size);
}

TEST_CASE("CheckSegmentAcceptsCompactedSegments", "[compaction]") {
  StoreFixture f;
  auto log = f.log(compact_config());
  append_updates(*log, 100, f.clock.now_ms());
  REQUIRE(log->flush_now().ok());
  REQUIRE(log->compact()->records_removed > 0);
  Offset expected(0);
  auto paths = f.segment_paths();
  REQUIRE(paths.size() == log->segment_count());
  for (const auto& path : paths) {
    CAPTURE(path);
    auto check = check_segment(f.env, path);
    REQUIRE(check.ok());
    CHECK(check->problem.empty());
    CHECK(check->valid_bytes + check->zeroed_tail_bytes == check->file_bytes);
    // Only the active segment keeps zeros written ahead; a roll cuts them.
    if (path != paths.back()) CHECK(check->zeroed_tail_bytes == 0);
    CHECK(*check->first_offset >= expected);
    expected = *check->next_offset;
  }
  CHECK(expected == log->log_end());
}

TEST_CASE("CompactedLogSurvivesACrashWithTheSameNewestValues", "[compaction]") {
  StoreFixture f(kModelPowerLoss);
  Offset end;
  std::vector<Record> before;
  {
    auto log = f.log(compact_config());
    append_updates(*log, 100, f.clock.now_ms());
    REQUIRE(log->flush_now().ok());
    REQUIRE(log->compact()->segments_cleaned > 0);
    end = log->log_end();
    before = read_all(*log);
  }
  f.crash(CrashMode::power_loss);
  auto log = f.log(compact_config());
  CHECK(log->recovery_report().bytes_truncated == 0);
  CHECK(log->log_end() == end);
  CHECK(read_all(*log) == before);
  check_consistent(before, end.value);
}

TEST_CASE("CompactedLogRecoversWithoutItsIndex", "[compaction]") {
  // Recovery scans every compacted segment, gaps and all, and cuts nothing.
  StoreFixture f;
  Offset end;
  std::vector<Record> before;
  {
    auto log = f.log(compact_config());
    append_updates(*log, 100, f.clock.now_ms());
    REQUIRE(log->flush_now().ok());
    REQUIRE(log->compact()->segments_cleaned > 0);
    end = log->log_end();
    before = read_all(*log);
  }
  REQUIRE(f.store->close().ok());
  f.store.reset();
  std::filesystem::remove_all(f.dir.path() + "/.index");
  f.reopen();
  auto log = f.log(compact_config());
  CHECK(log->recovery_report().bytes_truncated == 0);
  CHECK(log->recovery_report().segments_dropped == 0);
  CHECK(log->log_end() == end);
  CHECK(read_all(*log) == before);
}

TEST_CASE("CrashMidSwapRecoversEitherFile", "[compaction]") {
  // Before the folder sync, a crash may bring back the segment as it was
  // before the rename, while the index already describes the cleaned one;
  // or leave a half-written ".cleaned" copy.
  StoreFixture f;
  Offset end;
  std::vector<Record> uncompacted;
  std::string first_segment;
  {
    auto log = f.log(compact_config());
    append_updates(*log, 100, f.clock.now_ms());
    REQUIRE(log->flush_now().ok());
    uncompacted = read_all(*log);
    first_segment = *f.env.contents(f.segment_path(Offset(0)));
    REQUIRE(log->compact()->segments_cleaned > 0);
    end = log->log_end();
  }
  f.store.reset();
  f.env.crash(CrashMode::power_loss);
  *f.env.contents(f.segment_path(Offset(0))) = first_segment;
  std::string leftover = cleaned_file_path(f.segment_path(Offset(5000)));
  REQUIRE(f.env.open_file(leftover, /*create=*/true).ok());
  *f.env.contents(leftover) = first_segment.substr(0, 100);
  f.reopen();
  auto log = f.log(compact_config());
  CHECK_FALSE(f.env.exists(leftover));
  CHECK(log->recovery_report().bytes_truncated == 0);
  CHECK(log->log_end() == end);
  auto records = read_all(*log);
  check_consistent(records, end.value);
  // The first segment is back as it was; the others stayed compacted.
  CHECK(records.size() < uncompacted.size());
  CHECK(std::equal(records.begin(), records.begin() + 20, uncompacted.begin()));
}

TEST_CASE("RenameReplacesAFileWhileOldHandlesKeepTheirBytes", "[compaction]") {
  // The swap relies on this in both Envs: a reader holding the old segment
  // finishes its read on the old bytes.
  bool posix = GENERATE(true, false);
  CAPTURE(posix);
  TempDir dir;
  FaultInjectionEnv fault;
  Env& env = posix ? Env::posix() : fault;
  REQUIRE(env.create_dirs(dir.path()).ok());
  std::string target = dir.path() + "/segment.log";
  std::string source = target + ".cleaned";
  auto old_file = env.open_file(target, /*create=*/true);
  REQUIRE(old_file.ok());
  REQUIRE((*old_file)->append(as_bytes("old bytes")).ok());
  auto new_file = env.open_file(source, /*create=*/true);
  REQUIRE(new_file.ok());
  REQUIRE((*new_file)->append(as_bytes("new")).ok());

  REQUIRE(env.rename_file(source, target).ok());
  CHECK_FALSE(env.exists(source));
  std::string seen(9, '\0');
  CHECK((*old_file)->read(0, as_writable_bytes(seen)).value() == 9);
  CHECK(seen == "old bytes");
  auto reopened = env.open_file(target, /*create=*/false);
  REQUIRE(reopened.ok());
  CHECK((*reopened)->size() == 3);
  CHECK(env.rename_file(source, target).code() == ErrorCode::io_error);
}

TEST_CASE("ARecordIsNotCompactedAwayByANewerOneThatCouldStillBeLost", "[compaction]") {
  // The newer record of the key is not flushed (a power loss takes it), or,
  // on a Raft replica, not committed (a new leader truncates it): the older
  // one must stay, or the key loses its last durable value.
  StoreFixture f(kModelPowerLoss);
  LogConfig config = compact_config(
      {{"flush.policy", "interval"}, {"flush.ms", "1000000000"}, {"flush.bytes", "1000000000"}});
  auto values_of_k = [](const PartitionLog& log) {
    std::vector<std::string> values;
    for (const auto& r : read_all(log)) {
      if (r.key == "k") values.push_back(*r.value);
    }
    return values;
  };
  auto log = f.log(config);
  append(*log, keyed_batch({{"k", "old"}}, 1000));
  for (int i = 0; i < 60; ++i) append(*log, keyed_batch({{"other" + std::to_string(i), "x"}}, 1000));
  REQUIRE(log->roll().ok());
  REQUIRE(log->flush_now().ok());

  SECTION("not flushed") {
    append(*log, keyed_batch({{"k", "new"}}, 1000));
    REQUIRE(log->roll().ok());
    REQUIRE(log->compact().ok());
    log.reset();
    f.crash(CrashMode::power_loss);
    CHECK(values_of_k(*f.log(config)) == std::vector<std::string>{"old"});
  }
  SECTION("not committed") {
    log->set_delete_limit(log->log_end());
    append(*log, keyed_batch({{"k", "new"}}, 1000));
    REQUIRE(log->roll().ok());
    REQUIRE(log->flush_now().ok());  // durable here, but not committed
    REQUIRE(log->compact().ok());
    CHECK(values_of_k(*log) == std::vector<std::string>{"old", "new"});
  }
}
