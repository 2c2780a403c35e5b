#include "storage/log_bounds_file.h"

#include <fmt/format.h>

#include <cinttypes>
#include <cstdio>

#include "storage/durable_file.h"

namespace cairn::storage {

namespace {

constexpr size_t kMaxFileBytes = 256;

std::string path_in(const std::string& dir) { return dir + "/" + kLogBoundsFileName; }

}  // namespace

Result<std::optional<LogBounds>> read_log_bounds(Env& env, const std::string& dir) {
  std::string path = path_in(dir);
  auto text = read_small_file(env, path, kMaxFileBytes);
  if (!text.ok()) return text.status();
  if (!*text) return std::optional<LogBounds>();
  int64_t log_start = -1;
  int64_t compacted_end = -1;
  int64_t restart_term = -1;
  int consumed = 0;
  const char* line = (*text)->c_str();
  int fields = std::sscanf(line, "log_start=%" SCNd64 " compacted_end=%" SCNd64 "\n%n",
                           &log_start, &compacted_end, &consumed);
  if (fields == 2 && static_cast<size_t>(consumed) != (*text)->size()) {
    consumed = 0;
    fields = std::sscanf(line,
                         "log_start=%" SCNd64 " compacted_end=%" SCNd64 " restart_term=%" SCNd64
                         "\n%n",
                         &log_start, &compacted_end, &restart_term, &consumed);
    if (fields == 3 && restart_term < 0) fields = 0;
  }
  if (fields < 2 || static_cast<size_t>(consumed) != (*text)->size() || log_start < 0 ||
      compacted_end < 0) {
    return error(ErrorCode::storage_corrupt,
                 "{} is not a partition bounds file (want 'log_start=N compacted_end=M "
                 "[restart_term=T]'); it holds where the log starts, which the segments cannot "
                 "tell",
                 path);
  }
  LogBounds bounds{Offset(log_start), Offset(compacted_end)};
  if (fields == 3) bounds.restart_term = Term(restart_term);
  return std::optional<LogBounds>(bounds);
}

Status write_log_bounds(Env& env, const std::string& dir, const LogBounds& bounds) {
  std::string text = fmt::format("log_start={} compacted_end={}", bounds.log_start.value,
                                 bounds.compacted_end.value);
  if (bounds.restart_term) text += fmt::format(" restart_term={}", bounds.restart_term->value);
  return replace_file_durably(env, path_in(dir), text + "\n");
}

}  // namespace cairn::storage
