#include "storage/log_bounds_file.h"

#include <fmt/format.h>

#include "proto/byte_io.h"

#include <cinttypes>
#include <cstdio>

namespace cairn::storage {

namespace {

constexpr size_t kMaxFileBytes = 256;

std::string path_in(const std::string& dir) { return dir + "/" + kLogBoundsFileName; }

}  // namespace

Result<std::optional<LogBounds>> read_log_bounds(Env& env, const std::string& dir) {
  std::string path = path_in(dir);
  if (!env.exists(path)) return std::optional<LogBounds>();
  auto file = env.open_file(path, /*create=*/false);
  if (!file.ok()) return file.status();
  std::string text(kMaxFileBytes, '\0');
  auto read = (*file)->read(0, as_writable_bytes(text));
  if (!read.ok()) return read.status();
  text.resize(*read);
  int64_t log_start = -1;
  int64_t compacted_end = -1;
  int consumed = 0;
  int fields = std::sscanf(text.c_str(), "log_start=%" SCNd64 " compacted_end=%" SCNd64 "\n%n",
                           &log_start, &compacted_end, &consumed);
  if (fields != 2 || static_cast<size_t>(consumed) != text.size() || log_start < 0 ||
      compacted_end < 0) {
    return error(ErrorCode::storage_corrupt,
                 "{} is not a partition bounds file (want 'log_start=N compacted_end=M'); it "
                 "holds where the log starts, which the segments cannot tell",
                 path);
  }
  return std::optional<LogBounds>(LogBounds{Offset(log_start), Offset(compacted_end)});
}

Status write_log_bounds(Env& env, const std::string& dir, const LogBounds& bounds) {
  std::string path = path_in(dir);
  std::string tmp = path + ".tmp";
  std::string text = fmt::format("log_start={} compacted_end={}\n", bounds.log_start.value,
                                 bounds.compacted_end.value);
  if (env.exists(tmp)) CAIRN_RETURN_IF_ERROR(env.remove_file(tmp));
  auto file = env.open_file(tmp, /*create=*/true);
  if (!file.ok()) return file.status();
  CAIRN_RETURN_IF_ERROR((*file)->append(as_bytes(text)));
  CAIRN_RETURN_IF_ERROR((*file)->sync());
  file->reset();
  CAIRN_RETURN_IF_ERROR(env.rename_file(tmp, path));
  return env.sync_dir(dir);
}

}  // namespace cairn::storage
