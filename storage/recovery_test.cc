#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "proto/record_batch_format.h"
#include "storage/segment_check.h"
#include "storage/test_util.h"

using namespace cairn;
using namespace cairn::storage;
using namespace cairn::storage::testing;


TEST_CASE("TornLastBatchIsCutAtEveryBytePosition", "[recovery]") {
  // Measure the layout once: two flushed batches, then a third.
  size_t prefix_size = 0;
  size_t full_size = 0;
  {
    StoreFixture f;
    auto log = f.log(manual_flush_config());
    append(*log, make_batch(2, 1000, "a"));
    append(*log, make_batch(2, 1000, "b"));
    prefix_size = log->size_bytes();
    append(*log, make_batch(3, 1000, "c"));
    full_size = log->size_bytes();
  }
  // Cuts inside the header and inside the records of the last batch.
  for (size_t cut = prefix_size; cut < full_size; ++cut) {
    CAPTURE(cut);
    StoreFixture f;
    {
      auto log = f.log(manual_flush_config());
      append(*log, make_batch(2, 1000, "a"));
      append(*log, make_batch(2, 1000, "b"));
      REQUIRE(log->flush_now().ok());
      append(*log, make_batch(3, 1000, "c"));
    }
    f.store.reset();  // crash
    f.env.contents(f.segment_path(Offset(0)))->resize(cut);
    f.reopen();
    auto log = f.log(manual_flush_config());
    CHECK(log->log_end() == Offset(4));
    CHECK(log->size_bytes() == prefix_size);
    // A cut inside the base offset leaves only zeros of the header, which
    // look like zeros written ahead: cut as well, but not as damage.
    const RecoveryReport& report = log->recovery_report();
    CHECK(report.bytes_truncated + report.zeroed_bytes_cut == cut - prefix_size);
    CHECK(values_of(*log) == std::vector<std::string>{"a-0", "a-1", "b-0", "b-1"});
    CHECK(append(*log, make_batch(1, 1000, "d")).base_offset == Offset(4));
  }
}

TEST_CASE("ZerosWrittenAheadAreCutAtRecoveryAsNoDamage", "[recovery]") {
  StoreFixture f;
  const std::string path = f.segment_path(Offset(0));
  uint64_t batches = 0;
  uint64_t file_size = 0;
  {
    auto log = f.log(manual_flush_config());
    append(*log, make_batch(2, 1000, "a"));
    append(*log, make_batch(2, 1000, "b"));
    REQUIRE(log->flush_now().ok());
    batches = log->size_bytes();
    const std::string& bytes = *f.env.contents(path);
    file_size = bytes.size();
    REQUIRE(file_size >= batches + LogConfig().preallocate_bytes / 4);
    CHECK(bytes.find_first_not_of('\0', batches) == std::string::npos);
  }
  f.crash(CrashMode::process);
  auto log = f.log(manual_flush_config());
  const RecoveryReport& report = log->recovery_report();
  CHECK(report.zeroed_bytes_cut == file_size - batches);
  CHECK(report.bytes_truncated == 0);
  CHECK(report.truncation_reason.empty());
  CHECK(report.lost.empty());
  CHECK(values_of(*log) == std::vector<std::string>{"a-0", "a-1", "b-0", "b-1"});
  // Appends go where the batches end, not after the zeros.
  CHECK(append(*log, make_batch(1, 1000, "c")).base_offset == Offset(4));
  CHECK(values_of(*log) == std::vector<std::string>{"a-0", "a-1", "b-0", "b-1", "c-0"});
}

TEST_CASE("ARollCutsTheZerosWrittenAheadOfTheClosedSegment", "[recovery]") {
  StoreFixture f;
  auto log = f.log(manual_flush_config({{"segment.bytes", "50000"}}));
  for (int i = 0; i < 100; ++i) append(*log, make_batch(5, 1000, "r", 300));
  auto paths = f.segment_paths();
  REQUIRE(paths.size() >= 3);
  for (const auto& path : paths) {
    CAPTURE(path);
    auto check = check_segment(f.env, path);
    REQUIRE(check.ok());
    CHECK(check->problem.empty());
    CHECK(check->valid_bytes + check->zeroed_tail_bytes == check->file_bytes);
    if (path == paths.back()) {
      CHECK(check->zeroed_tail_bytes > 0);
      CHECK(check->file_bytes <= 50000);  // no zeros past where it rolls
    } else {
      CHECK(check->zeroed_tail_bytes == 0);
    }
  }
}

TEST_CASE("PreallocateBytesZeroWritesNoZerosAhead", "[recovery]") {
  CHECK(LogConfig().to_map().at("preallocate.bytes") == "262144");
  StoreFixture f;
  auto log = f.log(manual_flush_config({{"preallocate.bytes", "0"}}));
  append(*log, make_batch(2, 1000, "a"));
  REQUIRE(log->flush_now().ok());
  CHECK(f.env.contents(f.segment_path(Offset(0)))->size() == log->size_bytes());
}

TEST_CASE("LargeAppendsWriteNoZerosAhead", "[recovery]") {
  // A quarter of preallocate.bytes or more per append: the zeros would be
  // overwritten before most syncs, and only double the writes.
  StoreFixture f;
  auto log = f.log(manual_flush_config());
  const std::string path = f.segment_path(Offset(0));
  append(*log, make_batch(1, 1000, "big", LogConfig().preallocate_bytes / 4));
  CHECK(f.env.contents(path)->size() == log->size_bytes());
  append(*log, make_batch(1, 1000, "small"));
  CHECK(f.env.contents(path)->size() > log->size_bytes());
}

TEST_CASE("ZerosAreTheEndOfTheDataOnlyToAScanOfTheWholeFile", "[recovery]") {
  // Readers of the bytes a log holds (fetch, compaction, producer state)
  // must not take zeros there, a lost write, for the end of the segment.
  FaultInjectionEnv env;
  REQUIRE(env.create_dirs("/data").ok());
  auto file = env.open_file("/data/segment.log", true);
  REQUIRE(file.ok());
  const std::string batch = make_batch(2, 1000, "a");
  REQUIRE((*file)->append(as_bytes(batch)).ok());
  REQUIRE((*file)->zero_ahead(batch.size() + 4096).ok());
  const uint64_t end = batch.size() + 1000;

  BatchScanner held(**file, 0, end);
  REQUIRE(held.next(/*verify=*/true).ok());
  auto zeros = held.next(/*verify=*/true);
  REQUIRE_FALSE(zeros.ok());
  CHECK(zeros.status().code() == ErrorCode::corrupt_batch);

  BatchScanner whole(**file, 0, end, BatchScanner::kDefaultReadAhead, BatchScanner::Zeros::end_of_data);
  REQUIRE(whole.next(/*verify=*/true).ok());
  auto tail = whole.next(/*verify=*/true);
  REQUIRE(tail.ok());
  CHECK_FALSE(tail->has_value());
  CHECK(whole.zeroed_tail_bytes() == 1000);
}

TEST_CASE("ZerosWrittenAheadWithOtherBytesAfterThemAreDamage", "[recovery]") {
  StoreFixture f;
  const std::string path = f.segment_path(Offset(0));
  uint64_t batches = 0;
  {
    auto log = f.log(manual_flush_config());
    append(*log, make_batch(2, 1000, "a"));
    REQUIRE(log->flush_now().ok());
    batches = log->size_bytes();
  }
  std::string& bytes = *f.env.contents(path);
  REQUIRE(bytes.size() > batches + 1000);
  bytes[batches + 1000] = 'x';  // a stray write far past the last batch
  const uint64_t file_size = bytes.size();
  auto check = check_segment(f.env, path);
  REQUIRE(check.ok());
  CHECK_THAT(check->problem, Catch::Contains("zeros, then other bytes at position " +
                                             std::to_string(batches + 1000)));
  CHECK(check->problem_position == batches);
  CHECK_FALSE(check->torn_tail);

  f.crash(CrashMode::process);
  auto log = f.log(manual_flush_config());
  CHECK(log->recovery_report().bytes_truncated == file_size - batches);
  CHECK(log->recovery_report().zeroed_bytes_cut == 0);
  CHECK_THAT(log->recovery_report().truncation_reason, Catch::Contains("zeros, then other bytes"));
  CHECK(values_of(*log) == std::vector<std::string>{"a-0", "a-1"});
}

TEST_CASE("ABatchCutShortInZeroedSpaceIsATornTail", "[recovery]") {
  StoreFixture f;
  const std::string path = f.segment_path(Offset(0));
  uint64_t flushed = 0;
  uint64_t all = 0;
  {
    auto log = f.log(manual_flush_config());
    append(*log, make_batch(2, 1000, "a"));
    REQUIRE(log->flush_now().ok());
    flushed = log->size_bytes();
    append(*log, make_batch(3, 1000, "b", 600));
    all = log->size_bytes();
  }
  std::string& bytes = *f.env.contents(path);
  SECTION("its sectors from one on are still zeros: a torn tail") {
    const uint64_t sector = (flushed / 512 + 1) * 512;
    REQUIRE(sector + 100 < all);
    std::fill(bytes.begin() + static_cast<ptrdiff_t>(sector), bytes.begin() + static_cast<ptrdiff_t>(all), '\0');
    auto check = check_segment(f.env, path);
    REQUIRE(check.ok());
    CHECK(check->valid_bytes == flushed);
    CHECK(check->torn_tail);
  }
  SECTION("a flipped byte in it, however it ends: damage") {
    bytes[(flushed + all) / 2] ^= 0x10;
    auto check = check_segment(f.env, path);
    REQUIRE(check.ok());
    CHECK(check->valid_bytes == flushed);
    CHECK_FALSE(check->torn_tail);
  }
  const uint64_t file_size = bytes.size();

  f.crash(CrashMode::process);
  auto log = f.log(manual_flush_config());
  CHECK(log->recovery_report().bytes_truncated == file_size - flushed);
  CHECK(log->recovery_report().lost.empty());
  CHECK(values_of(*log) == std::vector<std::string>{"a-0", "a-1"});
}

TEST_CASE("FlippedByteInUnflushedBatchesCutsTheLogThere", "[recovery]") {
  auto which = GENERATE(1, 3);  // a middle batch, the last batch
  CAPTURE(which);
  StoreFixture f;
  std::vector<uint64_t> starts;
  {
    auto log = f.log(manual_flush_config());
    append(*log, make_batch(2, 1000, "a"));
    REQUIRE(log->flush_now().ok());
    for (const char* tag : {"b", "c", "d"}) {
      starts.push_back(log->size_bytes());
      append(*log, make_batch(2, 1000, tag));
    }
  }
  f.store.reset();
  std::string& bytes = *f.env.contents(f.segment_path(Offset(0)));
  bytes[starts[which - 1] + batch_format::kHeaderSize + 3] ^= 0x10;  // inside the CRC's range
  f.reopen();
  auto log = f.log(manual_flush_config());
  CHECK(log->size_bytes() == starts[which - 1]);
  CHECK(log->recovery_report().truncation_reason.find("crc") != std::string::npos);
  CHECK(log->log_end() == Offset(2 * which));
}

TEST_CASE("CorruptionInFlushedSegmentIsReportedOnRead", "[recovery]") {
  StoreFixture f;
  auto log = f.log(*LogConfig().with({{"segment.bytes", "4096"}}));
  for (int i = 0; i < 30; ++i) append(*log, make_batch(1, 1000, "v", 500));
  REQUIRE(log->flush_now().ok());
  REQUIRE(log->segment_count() > 2);
  std::string& bytes = *f.env.contents(f.segment_path(Offset(0)));
  bytes[batch_format::kHeaderSize + 10] ^= 0x01;  // first batch of a closed segment

  auto read = log->read(Offset(0), 1 << 20, Offset::max());
  REQUIRE_FALSE(read.ok());
  CHECK(read.status().code() == ErrorCode::storage_corrupt);
  CHECK_THAT(read.status().message(), Catch::Contains("00000000000000000000.log"));
  // Data elsewhere stays readable.
  CHECK(log->read(log->log_end() - 1, 1 << 20, Offset::max()).ok());
}

TEST_CASE("AReadStopsBeforeTheBatchAtItsLimitWithoutVerifyingIt", "[recovery]") {
  // A Raft replica's tail past its commit point may be cut and rewritten
  // under a read: a read that stops there must not judge those bytes.
  StoreFixture f;
  auto log = f.log();
  for (int i = 0; i < 3; ++i) append(*log, make_batch(10, 1000 + i, "b", 50));
  REQUIRE(log->flush_now().ok());
  std::vector<int64_t> reported;
  log->set_damage_listener([&](Offset from) { reported.push_back(from.value); });
  REQUIRE(f.env.flip_byte(f.segment_path(Offset(0)), 5));  // in the last batch, [20, 29]
  auto head = log->read(Offset(0), 1 << 20, Offset(20));
  REQUIRE(head.ok());
  CHECK(head->next_offset == Offset(20));
  CHECK(reported.empty());
  auto tail = log->read(Offset(20), 1 << 20, Offset::max());
  CHECK(tail.status().code() == ErrorCode::storage_corrupt);
  CHECK(reported == std::vector<int64_t>{20});
}

TEST_CASE("DeletedIndexIsRebuiltFromSegments", "[recovery]") {
  StoreFixture f;
  size_t entries_before = 0;
  LogConfig config = *LogConfig().with({{"segment.bytes", "16384"}});
  {
    auto log = f.log(config);
    for (int i = 0; i < 100; ++i) append(*log, make_batch(2, 10'000 + i * 10, "v", 300));
    entries_before = f.store->index().count_offset_entries(f.tp);
    REQUIRE(log->close().ok());
  }
  f.store.reset();
  std::filesystem::remove_all(f.dir.path() + "/.index");
  f.reopen();
  auto log = f.log(config);
  CHECK(log->log_end() == Offset(200));
  CHECK(log->recovery_report().batches_scanned == 100);
  CHECK(f.store->index().count_offset_entries(f.tp) == entries_before);
  CHECK(values_of(*log).size() == 200);
  CHECK(**log->offset_for_time(10'500) == Offset(100));
}

TEST_CASE("DamagedIndexIsRebuiltFromSegments", "[recovery]") {
  StoreFixture f;
  {
    auto log = f.log();
    for (int i = 0; i < 50; ++i) append(*log, make_batch(2, 1000, "v", 300));
    REQUIRE(log->close().ok());
  }
  f.store.reset();
  for (const auto& entry : std::filesystem::directory_iterator(f.dir.path() + "/.index")) {
    std::string name = entry.path().filename().string();
    if (name.starts_with("MANIFEST") || name == "CURRENT") {
      std::ofstream(entry.path(), std::ios::trunc) << "garbage";
    }
  }
  f.reopen();
  auto log = f.log();
  CHECK(log->log_end() == Offset(100));
  CHECK(values_of(*log).size() == 100);
  // Moved aside for a person to look at, not destroyed.
  int kept = 0;
  for (const auto& entry : std::filesystem::directory_iterator(f.dir.path())) {
    kept += entry.path().filename().string().starts_with(".index.damaged-");
  }
  CHECK(kept == 1);
}

TEST_CASE("ALostIndexKeepsWhereTheLogStartsAndWhereCompactionEnded", "[recovery]") {
  StoreFixture f;
  LogConfig config = *LogConfig().with({{"segment.bytes", "16384"}});
  {
    auto log = f.log(config);
    for (int i = 0; i < 100; ++i) append(*log, make_batch(2, 10'000 + i * 10, "v", 300));
    REQUIRE(log->flush_now().ok());
    REQUIRE(log->advance_start(Offset(101)).ok());  // inside a segment
    REQUIRE(log->close().ok());
  }
  f.store.reset();
  std::filesystem::remove_all(f.index_dir());
  f.reopen();
  auto log = f.log(config);
  CHECK(log->log_start() == Offset(101));
  CHECK(log->log_end() == Offset(200));
  CHECK(log->read(Offset(100), 1 << 20, Offset::max()).status().code() ==
        ErrorCode::offset_out_of_range);
}

TEST_CASE("StaleIndexEntriesAfterLostTailAreDropped", "[recovery]") {
  StoreFixture f(kModelPowerLoss);
  std::vector<std::string> durable;
  {
    auto log = f.log(manual_flush_config());
    for (int i = 0; i < 10; ++i) append(*log, make_batch(1, 1000, "old" + std::to_string(i), 2000));
    REQUIRE(log->flush_now().ok());
    durable = values_of(*log);
    // Indexed, never synced: the crash loses these bytes but not their entries.
    for (int i = 0; i < 10; ++i) append(*log, make_batch(1, 2000 + i, "lost", 2000));
  }
  f.crash(CrashMode::power_loss);
  auto log = f.log(manual_flush_config());
  CHECK(log->log_end() == Offset(10));
  // New data at the same offsets is found at its new positions.
  for (int i = 0; i < 10; ++i) append(*log, make_batch(1, 3000 + i, "new" + std::to_string(i), 500));
  for (int64_t offset = 10; offset < 20; ++offset) {
    auto read = log->read(Offset(offset), 1, Offset::max());
    REQUIRE(read.ok());
    auto records = decode_all(read->bytes);
    REQUIRE(records.size() == 1);
    CHECK(records[0].value->starts_with("new" + std::to_string(offset - 10) + "-0"));
  }
  CHECK(**log->offset_for_time(2500) == Offset(10));
}

TEST_CASE("MissingIndexEntriesAreRebuilt", "[recovery]") {
  StoreFixture f;
  size_t entries_before = 0;
  {
    auto log = f.log(manual_flush_config());
    for (int i = 0; i < 40; ++i) append(*log, make_batch(1, 1000 + i, "v", 2000));
    REQUIRE(log->flush_now().ok());
    entries_before = f.store->index().count_offset_entries(f.tp);
    REQUIRE(entries_before > 10);
    REQUIRE(f.store->index().delete_entries_from(f.tp, Offset(5)).ok());
  }
  f.store.reset();  // crash
  f.reopen();
  auto log = f.log(manual_flush_config());
  CHECK(log->log_end() == Offset(40));
  CHECK(f.store->index().count_offset_entries(f.tp) == entries_before);
  CHECK(**log->offset_for_time(1030) == Offset(30));
}

TEST_CASE("CleanShutdownSkipsTheScan", "[recovery]") {
  StoreFixture f;
  {
    auto log = f.log();
    for (int i = 0; i < 10; ++i) append(*log, make_batch(3, 1000));
    REQUIRE(f.store->close().ok());
    // Closing cut the zeros written ahead: the file ends with the log.
    CHECK(f.env.contents(f.segment_path(Offset(0)))->size() == log->size_bytes());
  }
  f.reopen();
  auto log = f.log();
  CHECK(log->recovery_report().scan_skipped);
  CHECK(log->recovery_report().batches_scanned == 0);
  CHECK(log->log_end() == Offset(30));
  CHECK(append(*log, make_batch(1, 1000)).base_offset == Offset(30));
}

TEST_CASE("FailedSyncFailsWaitersAndStopsThePartition", "[recovery]") {
  StoreFixture f;
  auto log = f.log(manual_flush_config());
  append(*log, make_batch(1, 1000, "durable"));
  REQUIRE(log->flush_now().ok());
  append(*log, make_batch(1, 1000, "doomed"));
  Status seen;
  log->when_flushed(log->log_end(), [&](Status s) { seen = s; });
  f.env.fail_next_syncs(1);
  CHECK(log->flush_now().code() == ErrorCode::io_error);
  CHECK(seen.code() == ErrorCode::io_error);
  std::string more = make_batch(1, 1000);
  // io_error, not a retriable shutting_down: the partition will not recover.
  CHECK(log->append(as_bytes(more), Term(1)).status().code() == ErrorCode::io_error);
  // "doomed" may never reach the disk: it is not served.
  auto read = log->read(Offset(0), 1 << 20, Offset::max());
  REQUIRE(read.ok());
  CHECK(decode_all(read->bytes).size() == 1);
  // kill -9: the page cache still holds "doomed", valid-looking, but the
  // restarted log must not trust it.
  log.reset();
  f.crash(CrashMode::process);
  CHECK(values_of(*f.log(manual_flush_config())) == std::vector<std::string>{"durable-0"});
}

TEST_CASE("ShortWriteLeavesTheLogUnchanged", "[recovery]") {
  StoreFixture f;
  auto log = f.log();
  append(*log, make_batch(2, 1000, "a"));
  uint64_t size = log->size_bytes();
  f.env.short_write_next_append();
  std::string batch = make_batch(2, 1000, "b");
  CHECK(log->append(as_bytes(batch), Term(1)).status().code() == ErrorCode::io_error);
  CHECK(log->size_bytes() == size);
  CHECK(f.env.contents(f.segment_path(Offset(0)))->size() == size);
  f.env.set_disk_full(true);
  CHECK(log->append(as_bytes(batch), Term(1)).status().code() == ErrorCode::io_error);
  f.env.set_disk_full(false);
  CHECK(append(*log, make_batch(1, 1000, "c")).base_offset == Offset(2));
  CHECK(values_of(*log) == std::vector<std::string>{"a-0", "a-1", "c-0"});
}

TEST_CASE("TheCommittedCheckpointIsKeptWithTheIndexAcrossRestarts", "[recovery]") {
  StoreFixture f;
  // Flushed only here: a background flush before the limit is set would
  // write the index (without it) and leave flush_now nothing to write.
  const LogConfig config = manual_flush_config();
  {
    auto log = f.log(config);
    CHECK(log->committed_checkpoint() == Offset(0));  // never set
    for (int i = 0; i < 5; ++i) append(*log, make_batch(2, 1000 + i, "b"));
    log->set_delete_limit(Offset(6));
    REQUIRE(log->flush_now().ok());  // the index write carries it
  }
  f.crash(CrashMode::process);
  {
    auto log = f.log(config);
    CHECK(log->committed_checkpoint() == Offset(6));
    // Not set again yet: index writes keep the one it opened with.
    append(*log, make_batch(2, 2000, "c"));
    REQUIRE(log->flush_now().ok());
    REQUIRE(log->close().ok());
  }
  f.reopen();
  CHECK(f.log(config)->committed_checkpoint() == Offset(6));
}
