#include "tools/log_commands.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>

#include "proto/record_batch.h"
#include "storage/env.h"
#include "storage/segment.h"
#include "storage/segment_check.h"

namespace cairn::tools {
namespace fs = std::filesystem;
using storage::Env;

namespace {

// Segment files of a partition folder in offset order.
std::vector<std::string> segment_files(const fs::path& dir) {
  std::vector<std::pair<Offset, std::string>> found;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (auto base = storage::parse_segment_file_name(entry.path().filename().string())) {
      found.emplace_back(*base, entry.path().string());
    }
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> paths;
  for (auto& [base, path] : found) paths.push_back(std::move(path));
  return paths;
}

std::string printable(const std::optional<std::string>& bytes) {
  if (!bytes) return "null";
  std::string out;
  for (unsigned char c : *bytes) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  return out;
}

constexpr const char* kTornTail =
    "TORN TAIL (the newest batch is cut short, as a crash or power loss leaves an unsynced write; the broker "
    "cuts it off when it opens the partition)";

// Numbered partition folders under a topic folder, in order.
std::vector<fs::path> partition_folders(const fs::path& topic) {
  std::vector<std::pair<long, fs::path>> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(topic, ec)) {
    std::string name = entry.path().filename().string();
    long number = 0;
    auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), number);
    if (entry.is_directory() && !name.empty() && ec == std::errc() && end == name.data() + name.size()) {
      found.emplace_back(number, entry.path());
    }
  }
  std::sort(found.begin(), found.end());
  std::vector<fs::path> out;
  for (auto& [number, path] : found) out.push_back(std::move(path));
  return out;
}

int dump_file(const std::string& path, bool with_records) {
  auto check = storage::check_segment(
      Env::posix(), path, [&](const storage::ScannedBatch& batch, std::span<const std::byte> bytes) {
        const BatchHeader& h = batch.header;
        fmt::print("  position={} offsets=[{}, {}] records={} bytes={} term={} first_ts={} "
                   "max_ts={} codec={} producer={} crc=ok\n",
                   batch.position, h.base_offset, h.last_offset(), h.record_count,
                   h.size_bytes(), h.leader_epoch, h.base_timestamp_ms, h.max_timestamp_ms,
                   compression_name(h.compression()), h.producer_id);
        if (!with_records) return;
        auto records = decode_batch(bytes);
        if (!records.ok()) {
          fmt::print("    cannot decode: {}\n", records.status().to_string());
          return;
        }
        for (const Record& r : *records) {
          fmt::print("    offset={} ts={} key={} value={} headers={}\n", r.offset, r.timestamp_ms,
                     printable(r.key), printable(r.value), r.headers.size());
        }
      });
  if (!check.ok()) {
    fmt::print(stderr, "error: {}\n", check.status().to_string());
    return 1;
  }
  fmt::print("{}: {} batches, {} records, {} bytes{}\n", path, check->batches, check->records,
             check->file_bytes,
             check->zeroed_tail_bytes == 0
                 ? std::string()
                 : fmt::format(" (the last {} zeros written ahead for appends)", check->zeroed_tail_bytes));
  if (!check->problem.empty()) {
    fmt::print("  {}: {} ({} bytes from there not shown)\n", check->torn_tail ? kTornTail : "CORRUPT",
               check->problem, check->file_bytes - check->problem_position);
    return 1;
  }
  return 0;
}

int run_dump(const std::string& path, bool with_records) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    auto files = segment_files(path);
    if (files.empty()) {
      // A topic folder: each partition in turn.
      int rc = 0;
      auto partitions = partition_folders(path);
      for (const auto& partition : partitions) {
        fmt::print("partition {}:\n", partition.filename().string());
        for (const auto& file : segment_files(partition)) rc |= dump_file(file, with_records);
      }
      if (partitions.empty()) {
        fmt::print(stderr, "error: {} holds no segment files and no partition folders: give a segment file "
                   "(.log), a partition folder (<data-dir>/TOPIC/N) or a topic folder\n", path);
        return 2;
      }
      return rc;
    }
    int rc = 0;
    for (const auto& file : files) rc |= dump_file(file, with_records);
    return rc;
  }
  if (!fs::exists(path, ec)) {
    fmt::print(stderr, "error: {} does not exist\n", path);
    return 2;
  }
  return dump_file(path, with_records);
}

enum class Verdict { ok, torn_tail, corrupt };

// Verifies one partition folder; prints one line.
Verdict verify_partition(const fs::path& dir, const std::string& name) {
  size_t segments = 0;
  size_t batches = 0;
  std::optional<Offset> first;
  std::optional<Offset> next;
  auto files = segment_files(dir);
  for (const auto& file : files) {
    auto check = storage::check_segment(Env::posix(), file);
    if (!check.ok()) {
      fmt::print("{}: CANNOT READ {}: {}\n", name, file, check.status().to_string());
      return Verdict::corrupt;
    }
    if (!check->problem.empty()) {
      // Only the end of the newest segment is written to: a cut-short batch elsewhere is damage.
      bool torn = check->torn_tail && file == files.back();
      fmt::print("{}: {} {}: {}\n", name, torn ? kTornTail : "CORRUPT", file, check->problem);
      return torn ? Verdict::torn_tail : Verdict::corrupt;
    }
    if (next && check->first_offset && *check->first_offset != *next) {
      fmt::print("{}: GAP before {}: previous segment ends at offset {}, this one starts at {}\n",
                 name, file, *next, *check->first_offset);
      return Verdict::corrupt;
    }
    ++segments;
    batches += check->batches;
    if (!first) first = check->first_offset;
    if (check->next_offset) next = check->next_offset;
  }
  fmt::print("{}: ok, {} segment(s), {} batches, offsets [{}, {})\n", name, segments, batches,
             first.value_or(Offset(0)), next.value_or(Offset(0)));
  return Verdict::ok;
}

int run_verify(const std::string& data_dir) {
  std::error_code ec;
  if (!fs::is_directory(data_dir, ec)) {
    fmt::print(stderr, "error: {} is not a folder (expected a broker's --data-dir)\n", data_dir);
    return 2;
  }
  // A data folder has its offset index, or (after the index was deleted
  // for the broker to rebuild it) segment files in TOPIC/N folders; an
  // unrelated folder would otherwise pass as one with nothing wrong.
  auto holds_segments = [&] {
    for (const auto& topic : fs::directory_iterator(data_dir, ec)) {
      for (const auto& partition : partition_folders(topic.path())) {
        if (!segment_files(partition).empty()) return true;
      }
    }
    return false;
  };
  if (!fs::is_directory(fs::path(data_dir) / ".index", ec) && !holds_segments()) {
    fmt::print(stderr, "error: {} is not a broker's data folder (it has no .index): give the --data-dir of a "
               "broker, or `cairn log dump` a topic or partition folder\n", data_dir);
    return 2;
  }
  size_t partitions = 0;
  size_t bad = 0;
  size_t torn = 0;
  std::vector<fs::path> topics;
  for (const auto& topic : fs::directory_iterator(data_dir)) {
    if (topic.is_directory() && !topic.path().filename().string().starts_with(".")) {
      topics.push_back(topic.path());
    }
  }
  std::sort(topics.begin(), topics.end());
  for (const auto& topic : topics) {
    for (const auto& dir : partition_folders(topic)) {
      ++partitions;
      std::string name = topic.filename().string() + "/" + dir.filename().string();
      Verdict verdict = verify_partition(dir, name);
      bad += verdict == Verdict::corrupt ? 1 : 0;
      torn += verdict == Verdict::torn_tail ? 1 : 0;
    }
  }
  fmt::print("{} partition(s) checked, {} corrupt, {} with a torn tail\n", partitions, bad, torn);
  return bad == 0 ? 0 : 1;
}

}  // namespace

void add_log_commands(CLI::App& app, int& exit_code) {
  auto* log = app.add_subcommand("log", "Inspect and check segment files offline (no broker needed)");
  log->require_subcommand(1);

  struct Options {
    std::string path;
    bool with_records = false;
  };
  auto options = std::make_shared<Options>();

  auto* dump = log->add_subcommand(
      "dump", "Print the batches of a segment file or partition folder: offsets, timestamps, "
              "sizes, term and CRC status. Exits 1 at the first corrupt batch\n"
              "Example: cairn log dump data/broker-1/orders/0");
  dump->add_option("PATH", options->path, "a segment file (.log) or a partition folder")->required();
  dump->add_flag("--records", options->with_records, "also decode and print every record");
  dump->callback([options, &exit_code] { exit_code = run_dump(options->path, options->with_records); });

  auto* verify = log->add_subcommand(
      "verify", "Check every segment of a broker's data folder: lengths, CRC-32C and offset "
                "continuity. Exits 1 and names the file and position on corruption\n"
                "Example: cairn log verify data/broker-1");
  verify->add_option("DATA_DIR", options->path, "the broker's --data-dir")->required();
  verify->callback([options, &exit_code] { exit_code = run_verify(options->path); });
}

}  // namespace cairn::tools
