#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "broker/data_dir_lock.h"

using namespace cairn;
using namespace cairn::broker;

namespace {

std::string fresh_path(const std::string& name) {
  auto path = std::filesystem::temp_directory_path() / ("cairn-lock-test-" + std::to_string(::getpid()) + name);
  std::filesystem::remove_all(path);
  return path.string();
}

}  // namespace

TEST_CASE("DataDirInUseIsRefusedUntilItsLockIsReleased", "[lock]") {
  std::string dir = fresh_path("-in-use");
  {
    auto first = DataDirLock::acquire(dir);  // creates the folder
    REQUIRE(first.ok());
    // flock locks belong to an open file, so a second one conflicts even in
    // the same process, as a second broker would.
    auto second = DataDirLock::acquire(dir);
    REQUIRE_FALSE(second.ok());
    CHECK_THAT(second.status().message(), Catch::Contains("is in use by another broker (process " +
                                                          std::to_string(::getpid()) + " holds"));
    CHECK_THAT(second.status().message(), Catch::Contains("its own --data-dir"));
  }
  CHECK(DataDirLock::acquire(dir).ok());
  std::filesystem::remove_all(dir);
}

TEST_CASE("DataDirThatIsAFileIsRefused", "[lock]") {
  std::string file = fresh_path("-file");
  std::ofstream(file) << "not a folder";
  auto lock = DataDirLock::acquire(file);
  REQUIRE_FALSE(lock.ok());
  CHECK_THAT(lock.status().message(), Catch::Contains("is a file, not a folder"));
  std::filesystem::remove(file);
}
