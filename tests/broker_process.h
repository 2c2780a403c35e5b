#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "proto/status.h"

namespace cairn::testing {

// A real cairnd process for integration tests, on 127.0.0.1 with a port
// chosen by the kernel (kept across restarts) and its own data folder.
// The destructor kills it if it still runs.
class BrokerProcess {
 public:
  // `port` 0: one chosen by the kernel at the first start.
  BrokerProcess(std::string data_dir, std::vector<std::string> extra_args = {}, int port = 0);
  ~BrokerProcess();
  BrokerProcess(const BrokerProcess&) = delete;
  BrokerProcess& operator=(const BrokerProcess&) = delete;

  // Starts cairnd and waits (up to 20 s) until it answers metadata requests.
  Status start();
  // SIGTERM and wait: a clean shutdown.
  void stop();
  // SIGKILL and wait: a crash.
  void kill();
  // SIGTERM without waiting: the broker shuts down while the test looks on;
  // wait_for_exit() then waits for the end.
  void begin_stop();
  void wait_for_exit();
  // SIGSTOP / SIGCONT: a broker that hangs (its connections stay open, nothing
  // is answered) and comes back.
  void pause();
  void resume();
  bool running() const { return pid_ > 0; }

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  const std::string& data_dir() const { return data_dir_; }
  const std::string& log_path() const { return log_path_; }

 private:
  Status wait_until_serving();
  void signal_and_wait(int signal);

  std::string data_dir_;
  std::vector<std::string> extra_args_;
  std::string log_path_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// A port free on 127.0.0.1 for brokers that must know each other's ports
// before they start: outside the kernel's range for outgoing connections
// (which could take it before the broker binds it), and never handed out
// twice while this process lives, nor to another test process.
int pick_free_port();

// Path of a program built next to the tests (build/bin).
std::string bin_path(const std::string& program);

}  // namespace cairn::testing
