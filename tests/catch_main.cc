// The Catch2 main of every test executable. Library logs below `error` are
// muted so test output stays readable; CAIRN_TEST_LOG=debug|info|warn shows them.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdlib>

#include <spdlog/spdlog.h>

int main(int argc, char* argv[]) {
  const char* level = std::getenv("CAIRN_TEST_LOG");
  spdlog::set_level(level ? spdlog::level::from_str(level) : spdlog::level::err);
  return Catch::Session().run(argc, argv);
}
