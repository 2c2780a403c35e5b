// Storage benchmark: appends 1 KiB records in 64 KiB batches to a partition
// log and reads them back, and in the same run writes the same bytes to a
// plain file, so the figures are ratios against this machine right now.
//
//   storage-bench [--dir DIR] [--total-mb N] [--rounds N] [--inflight N]
//
// Without fsync: log appends vs plain write() of the same chunks.
// With fsync: log appends acknowledged by group commit (on_append policy,
// `--inflight` batches awaiting their sync at most) vs a plain file that
// fdatasyncs every MiB.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <random>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "proto/byte_io.h"
#include "proto/record_batch.h"
#include "storage/store.h"

using namespace cairn;
using namespace cairn::storage;
namespace fs = std::filesystem;

namespace {

constexpr size_t kRecordBytes = 1024;
constexpr size_t kBatchTargetBytes = 64 * 1024;

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string make_batch() {
  RecordBatchBuilder builder;
  std::mt19937_64 rng(42);
  std::string value(kRecordBytes, '\0');
  while (builder.size_bytes() + kRecordBytes + 16 <= kBatchTargetBytes) {
    for (auto& c : value) c = static_cast<char>('a' + rng() % 26);
    builder.add(std::nullopt, value, {}, 1'700'000'000'000);
  }
  return std::move(builder.build()).value();
}

// MB/s of writing `total` bytes in `chunk`-sized writes, fdatasync every
// `sync_every` bytes (0: only at the end? no: never).
double plain_write(const std::string& path, const std::string& chunk, uint64_t total,
                   uint64_t sync_every) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw std::runtime_error("cannot open " + path);
  auto start = Clock::now();
  uint64_t since_sync = 0;
  for (uint64_t written = 0; written < total; written += chunk.size()) {
    if (::write(fd, chunk.data(), chunk.size()) != static_cast<ssize_t>(chunk.size())) {
      throw std::runtime_error("short write");
    }
    since_sync += chunk.size();
    if (sync_every && since_sync >= sync_every) {
      ::fdatasync(fd);
      since_sync = 0;
    }
  }
  if (sync_every) ::fdatasync(fd);
  double mbps = static_cast<double>(total) / 1e6 / seconds_since(start);
  ::close(fd);
  fs::remove(path);
  return mbps;
}

struct LogFigures {
  double append_mbps;
  double read_mbps;
};

LogFigures log_append(const std::string& dir, std::string batch, uint64_t total, bool durable,
                      size_t inflight_max) {
  fs::remove_all(dir);
  StoreOptions options;
  options.data_dir = dir;
  options.retention_check_interval_ms = 0;
  auto store = std::move(Store::open(options)).value();
  auto config = durable ? LogConfig()
                        : *LogConfig().with({{"flush.policy", "interval"},
                                             {"flush.ms", "1000000000"},
                                             {"flush.bytes", "1000000000000"}});
  auto log = std::move(store->open_partition({"bench", 0}, config)).value();

  std::mutex mutex;
  std::condition_variable acked;
  size_t inflight = 0;
  Status failure;
  auto start = Clock::now();
  for (uint64_t written = 0; written < total; written += batch.size()) {
    auto result = log->append(as_bytes(batch), Term(1));
    if (!result.ok()) throw std::runtime_error(result.status().to_string());
    if (!durable) continue;
    std::unique_lock lock(mutex);
    ++inflight;
    lock.unlock();
    log->when_flushed(result->last_offset + 1, [&](Status s) {
      std::lock_guard guard(mutex);
      if (!s.ok()) failure = s;
      --inflight;
      acked.notify_one();
    });
    lock.lock();
    acked.wait(lock, [&] { return inflight < inflight_max; });
  }
  if (durable) {
    std::unique_lock lock(mutex);
    acked.wait(lock, [&] { return inflight == 0; });
    if (!failure.ok()) throw std::runtime_error(failure.to_string());
  }
  double append_mbps = static_cast<double>(total) / 1e6 / seconds_since(start);

  start = Clock::now();
  uint64_t read_bytes = 0;
  for (Offset next = log->log_start(); next < log->log_end();) {
    auto read = log->read(next, 1 << 20, Offset::max());
    if (!read.ok()) throw std::runtime_error(read.status().to_string());
    read_bytes += read->bytes.size();
    next = read->next_offset;
  }
  double read_mbps = static_cast<double>(read_bytes) / 1e6 / seconds_since(start);
  (void)store->close();
  store.reset();
  fs::remove_all(dir);
  return {append_mbps, read_mbps};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Storage benchmark: partition-log appends and reads against plain file writes"};
  std::string dir = (fs::temp_directory_path() / "cairn-storage-bench").string();
  uint64_t total_mb = 256;
  int rounds = 3;
  size_t inflight = 32;
  app.add_option("--dir", dir, "scratch folder on the disk to measure (removed afterwards)");
  app.add_option("--total-mb", total_mb, "MB written per measurement")->check(CLI::PositiveNumber);
  app.add_option("--rounds", rounds, "measurements per figure; medians are printed")->check(CLI::PositiveNumber);
  app.add_option("--inflight", inflight, "durable mode: batches awaiting their sync at most")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);

  fs::create_directories(dir);
  std::string batch = make_batch();
  uint64_t total = total_mb * 1'000'000 / batch.size() * batch.size();
  fmt::print("batches of {} bytes ({} records of {} bytes), {} MB per run, {} rounds, in {}\n",
             batch.size(), batch.size() / (kRecordBytes + 12), kRecordBytes, total / 1'000'000,
             rounds, dir);

  std::vector<double> plain, plain_sync, append, read, append_sync;
  for (int round = 0; round < rounds; ++round) {
    plain.push_back(plain_write(dir + "/plain", batch, total, 0));
    auto fast = log_append(dir + "/log", batch, total, false, inflight);
    append.push_back(fast.append_mbps);
    read.push_back(fast.read_mbps);
    plain_sync.push_back(plain_write(dir + "/plain", batch, total, 1 << 20));
    append_sync.push_back(log_append(dir + "/log", batch, total, true, inflight).append_mbps);
  }
  fs::remove_all(dir);

  fmt::print("no fsync:   plain write {:8.1f} MB/s | log append {:8.1f} MB/s | ratio {:.2f}\n",
             median(plain), median(append), median(append) / median(plain));
  fmt::print("fsync:      plain write+fdatasync/MiB {:8.1f} MB/s | log append, group commit "
             "{:8.1f} MB/s | ratio {:.2f}\n",
             median(plain_sync), median(append_sync), median(append_sync) / median(plain_sync));
  fmt::print("read back:  {:8.1f} MB/s (page cache, CRC verified)\n", median(read));
  return 0;
}
