// The deployment files, checked where no Docker daemon runs: the compose
// file is valid and its brokers agree with the shared cairnd config, and the
// image builds with the scripts developers and CI use.

#include <fstream>
#include <regex>
#include <set>

#include "cluster_fixture.h"
#include "run_command.h"

using namespace cairn;
using namespace cairn::testing;

namespace {

std::string source_file(const std::string& path) {
  std::ifstream in(std::string(CAIRN_SOURCE_DIR) + "/" + path);
  INFO(path);
  REQUIRE(in);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// `key = value` lines of a cairnd config file.
std::map<std::string, std::string> config_settings(const std::string& text) {
  std::map<std::string, std::string> out;
  std::regex setting(R"(^([a-z-]+) = (.*)$)");
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_match(line, m, setting)) out[m[1]] = m[2];
  }
  return out;
}

}  // namespace

TEST_CASE("TheComposeFileIsValidAndItsBrokersMatchTheirVoters", "[integration][deploy]") {
  auto checked = run_command(fmt::format("docker-compose -f {}/docker-compose.yml config -q 2>&1", CAIRN_SOURCE_DIR));
  INFO(checked.output);
  REQUIRE(checked.exit_code == 0);

  std::string compose = source_file("docker-compose.yml");
  auto settings = config_settings(source_file("deploy/cairnd.conf"));
  std::string example = source_file("docs/cairnd.conf.example");
  for (const auto& [key, value] : settings) {
    INFO(key);
    CHECK_THAT(example, Catch::Contains("# " + key + " ="));  // a real option
  }
  REQUIRE(settings.count("controller-voters"));
  // Each voter ID@cairn-ID:PORT is a service started with --node-id ID
  // --listen 0.0.0.0:PORT, publishing PORT, with a volume of its own and a
  // health check through the gRPC health service on that port.
  std::regex voter(R"((\d+)@(cairn-\d+):(\d+))");
  const std::string& voters = settings["controller-voters"];
  int brokers = 0;
  for (std::sregex_iterator it(voters.begin(), voters.end(), voter), end; it != end; ++it, ++brokers) {
    std::string id = (*it)[1], service = (*it)[2], port = (*it)[3];
    INFO(service);
    CHECK(service == "cairn-" + id);
    CHECK_THAT(compose, Catch::Contains(fmt::format("\n  {}:\n", service)));
    CHECK_THAT(compose, Catch::Contains(fmt::format(R"("--node-id", "{}", "--listen", "0.0.0.0:{}"])", id, port)));
    CHECK_THAT(compose, Catch::Contains(fmt::format(R"(ports: ["{0}:{0}"])", port)));
    CHECK_THAT(compose, Catch::Contains(fmt::format(R"("{}:/var/lib/cairn")", service)));
    CHECK_THAT(compose, Catch::Contains(fmt::format(R"(["CMD", "cairn", "health", "--brokers", "127.0.0.1:{}"])", port)));
  }
  CHECK(brokers == 3);
  // Prometheus (profile "metrics") scrapes each broker's metrics port.
  REQUIRE(settings.count("metrics-listen"));
  std::string metrics_port = settings["metrics-listen"].substr(settings["metrics-listen"].rfind(':') + 1);
  std::string prometheus = source_file("deploy/prometheus.yml");
  for (int id = 1; id <= 3; ++id) CHECK_THAT(prometheus, Catch::Contains(fmt::format("\"cairn-{}:{}\"", id, metrics_port)));
  CHECK_THAT(compose, Catch::Contains("./deploy/prometheus.yml:/etc/prometheus/prometheus.yml:ro"));
  // ...with the recording rule for group lag across brokers (docs/metrics.md).
  CHECK_THAT(compose, Catch::Contains("./deploy/prometheus-rules.yml:/etc/prometheus/cairn-rules.yml:ro"));
  CHECK_THAT(prometheus, Catch::Contains("/etc/prometheus/cairn-rules.yml"));
  CHECK_THAT(source_file("deploy/prometheus-rules.yml"), Catch::Contains("cairn_group_committed_offset"));
  CHECK_THAT(compose, Catch::Contains(R"("topic", "create", "demo", "--partitions", "3", "--replication-factor", "3", "--if-not-exists")"));
}

TEST_CASE("TheImageBuildsWithTheScriptsDevelopersRun", "[integration][deploy]") {
  std::string dockerfile = source_file("Dockerfile");
  CHECK_THAT(dockerfile, Catch::Contains("FROM debian:bookworm AS build"));
  CHECK_THAT(dockerfile, Catch::Contains("RUN bash scripts/install-deps.sh"));
  CHECK_THAT(dockerfile, Catch::Contains("bash scripts/build.sh"));
  CHECK_THAT(dockerfile, Catch::Contains("cmake --install build --prefix /opt/cairn"));
  CHECK_THAT(dockerfile, Catch::Contains("FROM debian:bookworm-slim"));
  // The runtime stage installs what scripts/runtime-packages.sh lists; the
  // install test runs that script on a real installed tree.
  CHECK_THAT(dockerfile, Catch::Contains("scripts/runtime-packages.sh /opt/cairn > /opt/cairn/runtime-packages"));
  CHECK_THAT(dockerfile, Catch::Contains("$(cat /opt/cairn/runtime-packages)"));
  // The build context leaves out local build trees and data.
  std::string ignored = source_file(".dockerignore");
  for (const char* entry : {"build\n", "build-*\n", "data\n", ".git\n"}) CHECK_THAT(ignored, Catch::Contains(entry));
}

TEST_CASE("HealthSaysWhichBrokersServe", "[integration][deploy]") {
  SingleBroker cluster;
  auto healthy = run_command(fmt::format("{} health -b {} 2>&1", bin_path("cairn"), cluster.broker.address()));
  CHECK(healthy.exit_code == 0);
  CHECK_THAT(healthy.output, Catch::Contains(cluster.broker.address() + ": serving"));
  cluster.broker.stop();
  auto down = run_command(fmt::format("{} health -b {} 2>&1", bin_path("cairn"), cluster.broker.address()));
  CHECK(down.exit_code == 1);
  CHECK_THAT(down.output, Catch::Contains(cluster.broker.address() + ": not serving: no answer from"));
}
