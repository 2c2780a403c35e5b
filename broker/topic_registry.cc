#include "broker/topic_registry.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cairn/v1/admin.pb.h"

namespace cairn::broker {

Result<std::vector<TopicSpec>> load_topics(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::vector<TopicSpec>{};
  std::stringstream buffer;
  buffer << in.rdbuf();
  v1::TopicRegistryState state;
  if (!state.ParseFromString(buffer.str())) {
    return error(ErrorCode::storage_corrupt, "{} is not a valid topic list", path);
  }
  std::vector<TopicSpec> topics;
  for (const auto& t : state.topics()) {
    topics.push_back({t.name(), t.partitions(), {t.configs().begin(), t.configs().end()}, {}, 0});
  }
  return topics;
}

namespace {

Status write_synced(const std::string& path, const std::string& bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return error(ErrorCode::io_error, "cannot create {}: {}", path, std::strerror(errno));
  bool ok = ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()) &&
            ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok) return error(ErrorCode::io_error, "cannot write {}: {}", path, std::strerror(err));
  return {};
}

}  // namespace

Status save_topics(const std::string& path, const std::vector<TopicSpec>& topics) {
  v1::TopicRegistryState state;
  for (const auto& t : topics) {
    auto* spec = state.add_topics();
    spec->set_name(t.name);
    spec->set_partitions(t.partitions);
    spec->mutable_configs()->insert(t.config_overrides.begin(), t.config_overrides.end());
  }
  std::string tmp = path + ".tmp";
  CAIRN_RETURN_IF_ERROR(write_synced(tmp, state.SerializeAsString()));
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return error(ErrorCode::io_error, "cannot replace {}: {}", path, std::strerror(errno));
  }
  std::string dir = std::filesystem::path(path).parent_path().string();
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  return {};
}

}  // namespace cairn::broker
