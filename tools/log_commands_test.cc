// Runs the real `cairn log` binary over a data folder written by the store.

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "run_command.h"
#include "storage/test_util.h"

using namespace cairn;
using namespace cairn::storage;
using namespace cairn::storage::testing;
using cairn::testing::CommandResult;
using cairn::testing::run_command;

namespace {

CommandResult run(const std::string& args) {
  return run_command(fmt::format("{}/cairn {} 2>&1", CAIRN_BIN_DIR, args));
}

// A data folder with two partitions of a few segments each, on the real disk.
void write_data(const std::string& dir) {
  StoreOptions options;
  options.data_dir = dir;
  options.retention_check_interval_ms = 0;
  auto store = std::move(Store::open(options)).value();
  for (int partition = 0; partition < 2; ++partition) {
    auto log = std::move(store->open_partition({"orders", partition},
                                               *LogConfig().with({{"segment.bytes", "4096"}})))
                   .value();
    for (int i = 0; i < 20; ++i) append(*log, make_batch(3, 1000 + i, "order", 200));
  }
  REQUIRE(store->close().ok());
}

}  // namespace

TEST_CASE("LogVerifyPassesOnHealthyDataAndNamesCorruption", "[tools]") {
  TempDir dir;
  write_data(dir.path());
  auto healthy = run("log verify " + dir.path());
  CHECK(healthy.exit_code == 0);
  CHECK_THAT(healthy.output, Catch::Contains("orders/0: ok"));
  CHECK_THAT(healthy.output, Catch::Contains("offsets [0, 60)"));
  CHECK_THAT(healthy.output, Catch::Contains("2 partition(s) checked, 0 corrupt, 0 with a torn tail"));

  // Without its index (deleted for the broker to rebuild it), still a data folder.
  std::filesystem::rename(dir.path() + "/.index", dir.path() + "/index.bak");
  CHECK(run("log verify " + dir.path()).exit_code == 0);
  std::filesystem::rename(dir.path() + "/index.bak", dir.path() + "/.index");

  // A folder that is not a data folder is not reported as a healthy one.
  TempDir unrelated;
  std::filesystem::create_directories(unrelated.path() + "/photos/2024");
  auto wrong = run("log verify " + unrelated.path());
  CHECK(wrong.exit_code == 2);
  CHECK_THAT(wrong.output, Catch::Contains("is not a broker's data folder"));

  // A batch cut short at the end of the newest segment is what a crash leaves:
  // reported as such, not as corruption.
  std::vector<std::filesystem::path> segments;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path() + "/orders/0")) {
    if (entry.path().extension() == ".log") segments.push_back(entry.path());
  }
  std::sort(segments.begin(), segments.end());
  REQUIRE(!segments.empty());
  std::filesystem::resize_file(segments.back(), std::filesystem::file_size(segments.back()) - 100);
  auto torn = run("log verify " + dir.path());
  CHECK(torn.exit_code == 0);
  CHECK_THAT(torn.output, Catch::Contains("orders/0: TORN TAIL"));
  CHECK_THAT(torn.output, Catch::Contains("1 with a torn tail"));
  CHECK_THAT(run("log dump " + segments.back().string()).output, Catch::Contains("TORN TAIL"));

  std::string segment = dir.path() + "/orders/1/" + segment_file_name(Offset(0));
  {
    std::fstream file(segment, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(300);
    file.put('\x7f');
  }
  auto corrupt = run("log verify " + dir.path());
  CHECK(corrupt.exit_code == 1);
  CHECK_THAT(corrupt.output, Catch::Contains("orders/1: CORRUPT " + segment));
  CHECK_THAT(corrupt.output, Catch::Contains("crc mismatch"));
  CHECK_THAT(corrupt.output, Catch::Contains("1 corrupt"));
  // Its position is said once.
  auto line = corrupt.output.substr(corrupt.output.find("orders/1: CORRUPT"));
  line = line.substr(0, line.find('\n'));
  CHECK_THAT(line, Catch::Matches("[^@]*at position [0-9]+: [^@]*") && !Catch::Matches(".*at position.*at position.*"));
}

TEST_CASE("LogDumpPrintsBatchesAndRecords", "[tools]") {
  TempDir dir;
  write_data(dir.path());
  auto dump = run("log dump --records " + dir.path() + "/orders/0");
  CHECK(dump.exit_code == 0);
  CHECK_THAT(dump.output, Catch::Contains("position=0 offsets=[0, 2] records=3"));
  CHECK_THAT(dump.output, Catch::Contains("crc=ok"));
  CHECK_THAT(dump.output, Catch::Contains("offset=0 ts=1000 key=null value=order-0xx"));
  auto topic = run("log dump " + dir.path() + "/orders");
  CHECK(topic.exit_code == 0);
  CHECK_THAT(topic.output, Catch::Contains("partition 0:\n"));
  CHECK_THAT(topic.output, Catch::Contains("partition 1:\n"));
  auto missing = run("log dump " + dir.path() + "/nope.log");
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.output, Catch::Contains("does not exist"));
}
