// cairnd start-up as a new user meets it: every way it cannot start ends
// with a non-zero exit and one line saying what to fix, never a crash.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "cluster_fixture.h"
#include "run_command.h"

using namespace cairn;
using namespace cairn::testing;

namespace {

// Runs cairnd to its exit. The timeout turns a broker that wrongly starts
// into exit code 124 instead of a hung test.
CommandResult run_cairnd(const std::string& args) {
  return run_command(fmt::format("timeout 20 {} {} 2>&1", bin_path("cairnd"), args));
}

// Checks that cairnd exited with `exit_code` (not a crash, not a start) and said `why`.
void check_refused(const CommandResult& result, int exit_code, const std::string& why) {
  INFO(result.output);
  CHECK(result.exit_code == exit_code);
  CHECK_THAT(result.output, Catch::Contains(why));
}

// A TCP port held by a plain listening socket, as another program would.
class ForeignListener {
 public:
  ForeignListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
    REQUIRE(::listen(fd_, 1) == 0);
    socklen_t length = sizeof(address);
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    port_ = ntohs(address.sin_port);
  }
  ~ForeignListener() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

}  // namespace

TEST_CASE("SecondBrokerOnADataDirInUseIsRefusedAndTheFirstKeepsServing", "[integration][startup]") {
  SingleBroker cluster;
  cluster.create_topic("kept", 1);
  auto producer = cluster.producer();
  producer->send({.topic = "kept", .value = "before", .partition = 0});
  producer->flush();

  auto second = run_cairnd(fmt::format("--data-dir {} --listen 127.0.0.1:0", cluster.broker.data_dir()));
  check_refused(second, 1, fmt::format("--data-dir {} is in use by another broker", cluster.broker.data_dir()));
  // Refused before touching anything: no "rebuilding the index" from it.
  CHECK_THAT(second.output, !Catch::Contains("rebuilding"));

  // The first broker's data and index are intact, before and after a restart.
  producer->send({.topic = "kept", .value = "after", .partition = 0});
  producer->flush();
  cluster.broker.stop();
  REQUIRE(cluster.broker.start().ok());
  auto consumer = cluster.consumer();
  REQUIRE(consumer->assign({{"kept", 0}}).ok());
  auto records = consume(*consumer, 2);
  REQUIRE(records.size() == 2);
  CHECK(*records[1].record.value == "after");
}

TEST_CASE("DataDirThatIsAFileIsRefused", "[integration][startup]") {
  TempFolder folder;
  std::string file = folder.path() + "/data";
  std::ofstream(file) << "x";
  check_refused(run_cairnd(fmt::format("--data-dir {} --listen 127.0.0.1:0", file)), 1,
                "is a file, not a folder");
}

TEST_CASE("PortUsedByAnotherProgramIsRefused", "[integration][startup]") {
  TempFolder folder;
  ForeignListener other;
  auto result = run_cairnd(fmt::format("--data-dir {}/data --listen 127.0.0.1:{}", folder.path(), other.port()));
  check_refused(result, 1, fmt::format("cannot listen on 127.0.0.1:{}: Address already in use", other.port()));
  CHECK_FALSE(std::filesystem::exists(folder.path() + "/data"));  // found before the data is opened
}

TEST_CASE("SecondBrokerOnAPortInUseIsRefused", "[integration][startup]") {
  SingleBroker cluster;
  // With SO_REUSEPORT this one would start and share the port.
  auto second = run_cairnd(fmt::format("--data-dir {}/other --listen {}", cluster.folder.path(),
                                       cluster.broker.address()));
  check_refused(second, 1, "Address already in use; another program (another cairnd?) uses that port");
}

TEST_CASE("ListenAddressWithoutAUsablePortIsRefused", "[integration][startup]") {
  TempFolder folder;
  for (const char* bad : {"notanaddress", "127.0.0.1:99999", "127.0.0.1", "''"}) {
    INFO(bad);
    auto result = run_cairnd(fmt::format("--data-dir {}/data --listen {}", folder.path(), bad));
    check_refused(result, 1, "give host:port, e.g. 127.0.0.1:7070");
  }
  // Refused before the data folder is even created.
  CHECK_FALSE(std::filesystem::exists(folder.path() + "/data"));
}

TEST_CASE("ConfigFileWithAnUnknownKeyOrMalformedLineIsRefused", "[integration][startup]") {
  TempFolder folder;
  std::string config = folder.path() + "/cairnd.conf";
  std::ofstream(config) << "# comment\nauto-create-topics = true\ndefault-partitons = 3\n";
  auto unknown = run_cairnd(fmt::format("--config {} --data-dir {}/data", config, folder.path()));
  CHECK(unknown.exit_code != 0);
  CHECK_THAT(unknown.output, Catch::Contains(config + ":3: unknown option 'default-partitons'"));

  std::ofstream(config) << "auto-create-topics = true\ndefault-partitions 3\n";
  auto malformed = run_cairnd(fmt::format("--config {} --data-dir {}/data", config, folder.path()));
  CHECK(malformed.exit_code != 0);
  CHECK_THAT(malformed.output, Catch::Contains(config + ":2: expected `key = value`"));
  CHECK_FALSE(std::filesystem::exists(folder.path() + "/data"));
}

TEST_CASE("TopicDefaultMaxMessageBytesAboveTheRequestLimitIsRefused", "[integration][startup]") {
  TempFolder folder;
  auto result = run_cairnd(fmt::format(
      "--data-dir {}/data --listen 127.0.0.1:0 --max-request-bytes 100000 --topic-default max.message.bytes=200000",
      folder.path()));
  check_refused(result, 2, "max.message.bytes=200000 is above --max-request-bytes 100000");
}

TEST_CASE("TheConfigExampleListsEveryBrokerOptionAndIsAcceptedAsIs", "[integration]") {
  std::ifstream in(std::string(CAIRN_SOURCE_DIR) + "/docs/cairnd.conf.example");
  REQUIRE(in);
  std::string example((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto help = run_command(fmt::format("{} --help", bin_path("cairnd"))).output;
  // Every option an operator sets (not --help, --config, --version or the test hooks).
  std::regex flag("\n  --([a-z-]+)");
  int options = 0;
  for (std::sregex_iterator it(help.begin(), help.end(), flag), end; it != end; ++it) {
    std::string name = (*it)[1];
    if (name == "help" || name == "config" || name == "version" || name.starts_with("test-")) continue;
    ++options;
    INFO(name);
    CHECK_THAT(example, Catch::Contains("# " + name + " ="));
  }
  CHECK(options >= 15);
  // Uncommented, each default line is a valid config file.
  TempFolder folder;
  std::string config = folder.path() + "/cairnd.conf";
  std::ofstream out(config);
  std::istringstream lines(example);
  std::regex setting("# ([a-z-]+) = .*");
  for (std::string line; std::getline(lines, line);) {
    std::smatch match;
    // Not the cluster's voters: this broker runs alone (and the fixture gives its folder and port).
    if (std::regex_match(line, match, setting) && match[1] != "controller-voters" && match[1] != "data-dir" &&
        match[1] != "listen") {
      out << line.substr(2) << "\n";
    }
  }
  out.close();
  BrokerProcess broker(folder.path() + "/broker", {"--config", config});
  Status started = broker.start();
  INFO(started.to_string());
  CHECK(started.ok());
}

TEST_CASE("ABrokerOfAClusterStartsFromAConfigFileAsClusterShWritesIt", "[integration][startup][cluster]") {
  // A list value is taken whole (CLI11 would split it at its commas), and a
  // repeatable option is given by repeating its line.
  TempFolder folder;
  std::vector<int> ports = {pick_free_port(), pick_free_port(), pick_free_port()};
  std::string voters = fmt::format("1@127.0.0.1:{},2@127.0.0.1:{},3@127.0.0.1:{}", ports[0], ports[1], ports[2]);
  std::vector<std::unique_ptr<BrokerProcess>> brokers;
  for (int id = 1; id <= 3; ++id) {
    std::string data_dir = fmt::format("{}/broker-{}", folder.path(), id);
    std::string config = data_dir + ".conf";
    std::ofstream(config) << fmt::format(
        "node-id = {}\nlisten = 127.0.0.1:{}\ndata-dir = {}\ncontroller-voters = {}\n"
        "topic-default = retention.ms=3600000\ntopic-default = segment.bytes=1048576\n",
        id, ports[id - 1], data_dir, voters);
    brokers.push_back(std::make_unique<BrokerProcess>(data_dir, std::vector<std::string>{"--config", config},
                                                      ports[id - 1]));
  }
  for (auto& broker : brokers) {
    Status started = broker->start();
    INFO(started.to_string());
    REQUIRE(started.ok());
  }
  ClientOptions options;
  options.bootstrap_brokers = {brokers[0]->address()};
  auto admin = std::move(Admin::connect(options)).value();
  CHECK(eventually([&] {
    auto cluster = admin->describe_cluster();
    return cluster.ok() && cluster->brokers.size() == 3 && cluster->controller_id > 0;
  }, std::chrono::seconds(20)));
  REQUIRE(eventually([&] { return admin->create_topic("configured", 1).ok(); }, std::chrono::seconds(20)));
  Result<TopicDescription> topic = Status(ErrorCode::unknown, "not described yet");
  // The broker asked learns of the topic from the controller a moment later.
  REQUIRE(eventually([&] { return (topic = admin->describe_topic("configured")).ok(); }, std::chrono::seconds(10)));
  CHECK(topic->configs.at("retention.ms") == "3600000");
  CHECK(topic->configs.at("segment.bytes") == "1048576");
}
