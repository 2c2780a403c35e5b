#include "broker_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "cairn/v1/broker.grpc.pb.h"

namespace cairn::testing {

// CAIRN_BIN_DIR in the environment runs another build's programs: a long soak runs
// a frozen copy while the tree is rebuilt.
std::string bin_path(const std::string& program) {
  const char* dir = std::getenv("CAIRN_BIN_DIR");
  return std::string(dir != nullptr ? dir : CAIRN_BIN_DIR) + "/" + program;
}

BrokerProcess::BrokerProcess(std::string data_dir, std::vector<std::string> extra_args, int port)
    : data_dir_(std::move(data_dir)), extra_args_(std::move(extra_args)),
      log_path_(data_dir_ + ".log"), port_(port) {}

namespace {

// The kernel's range for the local ports of outgoing connections: a port
// picked inside it can be taken by any connection in the meantime.
std::pair<int, int> ephemeral_port_range() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 32768, high = 60999;
  in >> low >> high;
  return {low, high};
}

bool bindable_on_loopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  ::close(fd);
  return bound;
}

// Test processes run side by side (ctest -j): each holds an flock on a
// file per port it picked until it exits, so no two of them hand out the
// same port, even while a broker that owns it is down between restarts.
// Returns the lock's descriptor, or -1 when another process holds the port.
int reserve_for_this_process(int port) {
  static const std::filesystem::path dir = [] {
    auto path = std::filesystem::temp_directory_path() / fmt::format("cairn-test-ports-{}", ::getuid());
    std::filesystem::create_directories(path);
    return path;
  }();
  std::string path = (dir / std::to_string(port)).string();
  int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::fprintf(stderr, "cannot open %s to reserve a port: %s\n", path.c_str(), std::strerror(errno));
    std::abort();
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Picks among [first, last] outside [avoid_low, avoid_high]; 0 if none is free.
int pick_port_among(std::minstd_rand& random, int first, int last, int avoid_low, int avoid_high) {
  if (first > last) return 0;
  for (int attempt = 0; attempt < 10000; ++attempt) {
    int port = std::uniform_int_distribution<int>(first, last)(random);
    if (port >= avoid_low && port <= avoid_high) continue;
    int lock = reserve_for_this_process(port);
    if (lock < 0) continue;
    if (bindable_on_loopback(port)) return port;  // the lock stays held until this process exits
    ::close(lock);
  }
  return 0;
}

}  // namespace

int pick_free_port() {
  static std::mutex mutex;
  static std::minstd_rand random(static_cast<unsigned>(::getpid()) ^
                                 static_cast<unsigned>(std::random_device()()));
  std::lock_guard lock(mutex);
  auto [low, high] = ephemeral_port_range();
  int port = pick_port_among(random, 10000, 65535, low, high);
  // A range covering nearly every port leaves only ports inside it: still
  // never handed out twice, though an outgoing connection may take one.
  if (port == 0) port = pick_port_among(random, 1024, 65535, 0, 0);
  if (port == 0) {
    std::fprintf(stderr, "no free port on 127.0.0.1 for a test broker\n");
    std::abort();
  }
  return port;
}

BrokerProcess::~BrokerProcess() {
  if (running()) kill();
}

Status BrokerProcess::start() {
  if (running()) return error(ErrorCode::invalid_request, "cairnd already runs");
  std::filesystem::create_directories(data_dir_);
  std::string port_file = data_dir_ + ".port";
  std::filesystem::remove(port_file);
  std::vector<std::string> args = {bin_path("cairnd"), "--data-dir", data_dir_, "--listen",
                                   "127.0.0.1:" + std::to_string(port_), "--port-file", port_file};
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  pid_ = fork();
  if (pid_ < 0) return error(ErrorCode::io_error, "fork failed");
  if (pid_ == 0) {
    int log = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(log, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(port_file);
    if (in >> port_ && port_ > 0) return wait_until_serving();
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return error(ErrorCode::io_error, "cairnd exited during start; see {}", log_path_);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return error(ErrorCode::request_timed_out, "cairnd did not start in 20 s; see {}", log_path_);
}

Status BrokerProcess::wait_until_serving() {
  auto channel = grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
  auto stub = v1::Broker::NewStub(channel);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
    v1::MetadataResponse response;
    if (stub->Metadata(&context, v1::MetadataRequest(), &response).ok()) return {};
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return error(ErrorCode::request_timed_out, "cairnd on {} does not answer; see {}", address(),
               log_path_);
}

void BrokerProcess::signal_and_wait(int signal) {
  if (!running()) return;
  ::kill(pid_, signal);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

void BrokerProcess::stop() { signal_and_wait(SIGTERM); }

void BrokerProcess::begin_stop() {
  if (running()) ::kill(pid_, SIGTERM);
}

void BrokerProcess::wait_for_exit() {
  if (!running()) return;
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}
void BrokerProcess::kill() { signal_and_wait(SIGKILL); }

// SIGSTOP takes effect asynchronously: a thread running on another core
// may still answer a request after kill() returned. Waits (up to 2 s) until
// every thread of the broker is stopped.
void BrokerProcess::pause() {
  if (!running()) return;
  ::kill(pid_, SIGSTOP);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  auto all_stopped = [&] {
    std::error_code ec;
    for (const auto& task : std::filesystem::directory_iterator(fmt::format("/proc/{}/task", pid_), ec)) {
      std::ifstream stat(task.path() / "stat");
      std::string line;
      std::getline(stat, line);
      auto state = line.rfind(')');
      if (state == std::string::npos || state + 2 >= line.size() || line[state + 2] != 'T') return false;
    }
    return !ec;
  };
  while (!all_stopped() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void BrokerProcess::resume() {
  if (running()) ::kill(pid_, SIGCONT);
}

}  // namespace cairn::testing
