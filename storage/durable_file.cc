#include "storage/durable_file.h"

#include "proto/byte_io.h"

namespace cairn::storage {

Status replace_file_durably(Env& env, const std::string& path, std::string_view contents) {
  std::string tmp = path + ".tmp";
  if (env.exists(tmp)) CAIRN_RETURN_IF_ERROR(env.remove_file(tmp));
  {
    auto file = env.open_file(tmp, /*create=*/true);
    if (!file.ok()) return file.status();
    CAIRN_RETURN_IF_ERROR((*file)->append(as_bytes(contents)));
    CAIRN_RETURN_IF_ERROR((*file)->sync());
  }
  CAIRN_RETURN_IF_ERROR(env.rename_file(tmp, path));
  return env.sync_dir(path.substr(0, path.rfind('/')));
}

Result<std::optional<std::string>> read_small_file(Env& env, const std::string& path,
                                                   size_t max_bytes) {
  if (!env.exists(path)) return std::optional<std::string>();
  auto file = env.open_file(path, /*create=*/false);
  if (!file.ok()) return file.status();
  if ((*file)->size() > max_bytes) {
    return error(ErrorCode::storage_corrupt, "{} has {} bytes; at most {} were expected", path,
                 (*file)->size(), max_bytes);
  }
  std::string text((*file)->size(), '\0');
  auto read = (*file)->read(0, as_writable_bytes(text));
  if (!read.ok()) return read.status();
  text.resize(*read);
  return std::optional<std::string>(std::move(text));
}

}  // namespace cairn::storage
