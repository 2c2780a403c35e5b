// `cmake --install` as a user runs it, and an application built against the
// installed package the two ways users build: find_package(Cairn), and a
// plain compiler line with pkg-config. The application then talks to a real
// broker.

#include <filesystem>
#include <fstream>
#include <regex>

#include "cluster_fixture.h"
#include "run_command.h"

using namespace cairn;
using namespace cairn::testing;

namespace {

CommandResult run(const std::string& command) {
  auto result = run_command(command + " 2>&1");
  INFO(command << "\n" << result.output);
  REQUIRE(result.exit_code == 0);
  return result;
}

// Every #include in the installed headers names another installed header or
// a standard one: nothing of Cairn's insides, fmt, gRPC or protobuf.
void check_headers_are_self_contained(const std::filesystem::path& include_dir) {
  const std::regex include_line(R"(^\s*#\s*include\s*([<"])([^>"]+)[>"])");
  int headers = 0;
  for (const auto& entry : std::filesystem::directory_iterator(include_dir / "cairn")) {
    ++headers;
    std::ifstream in(entry.path());
    std::string line;
    while (std::getline(in, line)) {
      std::smatch m;
      if (!std::regex_search(line, m, include_line)) continue;
      INFO(entry.path().filename().string() << ": " << line);
      if (m[1] == "\"") {
        CHECK(std::filesystem::exists(include_dir / m[2].str()));
      } else {
        CHECK(m[2].str().find('/') == std::string::npos);  // <vector>, not <fmt/format.h>
      }
    }
  }
  CHECK(headers >= 8);
}

}  // namespace

TEST_CASE("TheInstalledClientLibraryBuildsTheExampleOutOfTree", "[integration][install]") {
  SingleBroker cluster;
  std::string prefix = cluster.folder.path() + "/prefix";
  std::string example = std::string(CAIRN_SOURCE_DIR) + "/client/examples/hello_cairn.cc";
  run(fmt::format("cmake --install {} --prefix {} --strip", CAIRN_BUILD_DIR, prefix));
  for (const char* installed : {"bin/cairnd", "bin/cairn", "lib/libcairn.so", "lib/cmake/Cairn/CairnConfig.cmake",
                                "lib/pkgconfig/cairn.pc", "include/cairn/producer.h", "include/cairn/status.h"}) {
    INFO(installed);
    CHECK(std::filesystem::exists(prefix + "/" + installed));
  }
  check_headers_are_self_contained(prefix + "/include");
  CHECK_THAT(run(prefix + "/bin/cairn --version").output, Catch::Contains("0.1.0"));
  // What the Dockerfile's runtime stage installs for this tree.
  auto packages = run(fmt::format("bash {}/scripts/runtime-packages.sh {}", CAIRN_SOURCE_DIR, prefix)).output;
  CHECK_THAT(packages, Catch::Contains("libgrpc++"));
  CHECK_THAT(packages, Catch::Contains("libstdc++6\n"));

  // find_package(Cairn) → Cairn::client.
  std::string outside = cluster.folder.path() + "/outside";
  run(fmt::format("cmake -S {}/tests/install -B {} -G Ninja -DCMAKE_PREFIX_PATH={} -DHELLO_SOURCE={}",
                  CAIRN_SOURCE_DIR, outside, prefix, example));
  run(fmt::format("cmake --build {}", outside));
  auto hello = run(fmt::format("{}/hello-cairn {}", outside, cluster.broker.address()));
  CHECK_THAT(hello.output, Catch::Contains("sent to partition"));
  CHECK_THAT(hello.output, Catch::Contains("hello ada"));

  // A plain compiler line, flags from pkg-config.
  std::string plain = cluster.folder.path() + "/hello-plain";
  run(fmt::format("c++ $(PKG_CONFIG_PATH={0}/lib/pkgconfig pkg-config --cflags cairn) {1} -o {2} "
                  "$(PKG_CONFIG_PATH={0}/lib/pkgconfig pkg-config --libs cairn) -Wl,-rpath,{0}/lib",
                  prefix, example, plain));
  CHECK_THAT(run(plain + " --help").output, Catch::Contains("usage: hello-cairn"));
  CHECK_THAT(run(plain + " " + cluster.broker.address()).output, Catch::Contains("hello grace"));
}
