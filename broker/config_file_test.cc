#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "broker/config_file.h"

using namespace cairn;
using namespace cairn::broker;

namespace {

const std::set<std::string> kKeys = {"data-dir", "default-partitions"};

// In a folder of this process's own: ctest runs the cases as parallel processes.
Status check(const std::string& text) {
  auto dir = std::filesystem::temp_directory_path() / ("cairn-config-file-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto path = (dir / "cairn-config-file-test.conf").string();
  std::ofstream(path) << text;
  Status checked = check_config_file(path, kKeys);
  std::filesystem::remove_all(dir);
  return checked;
}

}  // namespace

TEST_CASE("ConfigFileWithKnownKeysAndCommentsIsAccepted", "[config]") {
  CHECK(check("# broker\n\ndata-dir = /var/lib/cairn\n  ; note\ndefault-partitions=3\r\n").ok());
}

TEST_CASE("ConfigFileWithAnUnknownKeyIsRefusedWithItsLine", "[config]") {
  Status checked = check("data-dir = x\ndefault-partitons = 3\n");
  CHECK(checked.code() == ErrorCode::invalid_config);
  CHECK_THAT(checked.message(), Catch::EndsWith("cairn-config-file-test.conf:2: unknown option "
                                                "'default-partitons' (cairnd --help lists them)"));
}

TEST_CASE("ConfigFileWithAMalformedLineIsRefusedWithItsLine", "[config]") {
  CHECK_THAT(check("data-dir = x\n\ndefault-partitions 3\n").message(),
             Catch::Contains(".conf:3: expected `key = value`"));
  CHECK_THAT(check("= 3\n").message(), Catch::Contains(".conf:1: expected `key = value`, the key is missing"));
  CHECK_THAT(check("[section]\n").message(), Catch::Contains(".conf:1: expected"));
}
