#include "storage/power_loss_journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <vector>

#include "proto/assert.h"

namespace cairn::storage {

namespace fs = std::filesystem;

namespace {

std::string absolute(const std::string& path) { return fs::absolute(path).lexically_normal().string(); }

class JournaledFile final : public ForwardingFile {
 public:
  JournaledFile(std::unique_ptr<File> base, PowerLossJournalEnv& env, std::string path)
      : ForwardingFile(std::move(base)), env_(env), path_(std::move(path)) {}

  // A sync covers what was written before it began, as fdatasync does: the
  // appended bytes, then zeros up to where zeros were written ahead.
  Status sync() override {
    uint64_t covered = base().size();
    uint64_t zeroed = std::max(covered, zeroed_end_.load(std::memory_order_acquire));
    CAIRN_RETURN_IF_ERROR(base().sync());
    env_.record("sync\t" + std::to_string(covered) + "\t" + std::to_string(zeroed) + "\t" + path_);
    return {};
  }

  Status zero_ahead(uint64_t until) override {
    CAIRN_RETURN_IF_ERROR(base().zero_ahead(until));
    if (until > zeroed_end_.load(std::memory_order_relaxed)) {
      zeroed_end_.store(until, std::memory_order_release);
    }
    return {};
  }

  Status truncate(uint64_t size) override {
    CAIRN_RETURN_IF_ERROR(base().truncate(size));
    zeroed_end_.store(size, std::memory_order_release);
    return {};
  }

 private:
  PowerLossJournalEnv& env_;
  const std::string path_;
  // Where zeros written ahead end; read by a sync beside zero_ahead.
  std::atomic<uint64_t> zeroed_end_{0};
};

std::vector<std::string> split_fields(const std::string& line) {
  std::vector<std::string> fields;
  std::stringstream in(line);
  for (std::string field; std::getline(in, field, '\t');) fields.push_back(field);
  return fields;
}

// What the journal says survives of one file created through the Env.
struct Survivor {
  bool named = false;   // a folder sync listed it since it was created
  uint64_t synced = 0;  // appended bytes its last sync covered
  uint64_t zeroed = 0;  // where the zeros that sync covered end (>= synced)
};

// How many bytes of [from, to) of a file are not zero: the unsynced data a
// power cut takes, as opposed to zeros written ahead.
uint64_t nonzero_bytes(const std::string& path, uint64_t from, uint64_t to) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(from));
  std::vector<char> chunk(64 * 1024);
  uint64_t count = 0;
  while (from < to && in) {
    in.read(chunk.data(), static_cast<std::streamsize>(std::min<uint64_t>(chunk.size(), to - from)));
    auto n = static_cast<size_t>(in.gcount());
    if (n == 0) break;
    count += static_cast<uint64_t>(n - static_cast<size_t>(std::count(chunk.begin(), chunk.begin() + static_cast<ptrdiff_t>(n), '\0')));
    from += n;
  }
  return count;
}

}  // namespace

Result<std::unique_ptr<PowerLossJournalEnv>> PowerLossJournalEnv::open(Env& base, const std::string& journal_path) {
  int fd = ::open(journal_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    return error(ErrorCode::io_error, "cannot open the sync journal {}: {}", journal_path, std::strerror(errno));
  }
  return std::unique_ptr<PowerLossJournalEnv>(new PowerLossJournalEnv(base, fd));
}

PowerLossJournalEnv::~PowerLossJournalEnv() { ::close(fd_); }

void PowerLossJournalEnv::record(const std::string& line) {
  std::string text = line + "\n";
  std::lock_guard lock(mutex_);
  // One write per line (O_APPEND): a SIGKILL leaves whole lines, or a torn
  // last one that cut_power ignores. A journal missing a line would make a
  // power cut drop synced bytes, a loss that never happened: abort instead.
  ssize_t written = ::write(fd_, text.data(), text.size());
  CAIRN_ASSERT(written == static_cast<ssize_t>(text.size()));
}

Result<std::unique_ptr<File>> PowerLossJournalEnv::open_file(const std::string& path, bool create) {
  bool created = create && !exists(path);
  auto file = ForwardingEnv::open_file(path, create);
  if (!file.ok()) return file.status();
  std::string full = absolute(path);
  if (created) record("create\t" + full);
  return std::unique_ptr<File>(std::make_unique<JournaledFile>(std::move(*file), *this, full));
}

Status PowerLossJournalEnv::remove_file(const std::string& path) {
  CAIRN_RETURN_IF_ERROR(ForwardingEnv::remove_file(path));
  record("remove\t" + absolute(path));
  return {};
}

Status PowerLossJournalEnv::rename_file(const std::string& from, const std::string& to) {
  CAIRN_RETURN_IF_ERROR(ForwardingEnv::rename_file(from, to));
  record("rename\t" + absolute(from) + "\t" + absolute(to));
  return {};
}

Status PowerLossJournalEnv::remove_all(const std::string& path) {
  CAIRN_RETURN_IF_ERROR(ForwardingEnv::remove_all(path));
  record("remove_all\t" + absolute(path));
  return {};
}

Status PowerLossJournalEnv::sync_dir(const std::string& path) {
  // The entries present when the sync begins are the ones it makes durable.
  auto names = list_dir(path);
  if (!names.ok()) return names.status();
  CAIRN_RETURN_IF_ERROR(ForwardingEnv::sync_dir(path));
  std::string line = "dir\t" + absolute(path);
  for (const auto& name : *names) line += "\t" + name;
  record(line);
  return {};
}

Result<PowerCut> cut_power(const std::string& journal_path) {
  std::ifstream in(journal_path, std::ios::binary);
  if (!in) return error(ErrorCode::io_error, "cannot read the sync journal {}", journal_path);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  // A line torn by the kill (no newline yet) never happened.
  text.erase(text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1);

  std::map<std::string, Survivor> files;
  std::stringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    auto f = split_fields(line);
    if (f.size() < 2) return error(ErrorCode::storage_corrupt, "sync journal {}: bad line '{}'", journal_path, line);
    const std::string& kind = f[0];
    if (kind == "create") {
      files[f[1]] = Survivor{};
    } else if (kind == "sync" && f.size() == 4) {
      auto it = files.find(f[3]);
      if (it != files.end()) {
        it->second.synced = std::stoull(f[1]);
        it->second.zeroed = std::stoull(f[2]);
      }
    } else if (kind == "dir") {
      std::set<std::string> names(f.begin() + 2, f.end());
      for (auto& [path, survivor] : files) {
        fs::path p(path);
        if (p.parent_path() == fs::path(f[1]) && names.count(p.filename().string())) survivor.named = true;
      }
    } else if (kind == "rename" && f.size() == 3) {
      auto it = files.find(f[1]);
      if (it == files.end()) {
        files.erase(f[2]);  // a file the Env did not create replaced it: left as it is
        continue;
      }
      Survivor moved = it->second;
      moved.named = true;  // see the header: a rename is taken as durable
      files.erase(it);
      files[f[2]] = moved;
    } else if (kind == "remove") {
      files.erase(f[1]);
    } else if (kind == "remove_all") {
      std::string prefix = f[1] + "/";
      std::erase_if(files, [&](const auto& entry) { return entry.first.rfind(prefix, 0) == 0; });
    } else {
      return error(ErrorCode::storage_corrupt, "sync journal {}: bad line '{}'", journal_path, line);
    }
  }

  PowerCut cut;
  for (const auto& [path, survivor] : files) {
    std::error_code ec;
    if (!fs::exists(path, ec)) continue;
    if (!survivor.named) {
      if (!fs::remove(path, ec) || ec) return error(ErrorCode::io_error, "cannot remove {}: {}", path, ec.message());
      ++cut.files_removed;
      continue;
    }
    uint64_t size = fs::file_size(path, ec);
    if (ec) return error(ErrorCode::io_error, "cannot stat {}: {}", path, ec.message());
    if (size <= survivor.synced) continue;
    uint64_t dropped = nonzero_bytes(path, survivor.synced, size);
    // Unsynced appends over synced zeros leave those zeros: cutting at the
    // synced bytes and growing back (a hole reads as zeros) restores them.
    fs::resize_file(path, survivor.synced, ec);
    if (!ec && survivor.zeroed > survivor.synced) fs::resize_file(path, survivor.zeroed, ec);
    if (ec) return error(ErrorCode::io_error, "cannot truncate {}: {}", path, ec.message());
    if (dropped == 0) continue;  // only zeros written ahead went
    ++cut.files_truncated;
    cut.bytes_dropped += dropped;
  }
  return cut;
}

}  // namespace cairn::storage
