#include "broker/config_file.h"

#include <fstream>
#include <string_view>

namespace cairn::broker {
namespace {

std::string_view trim(std::string_view s) {
  auto first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r") - first + 1);
}

Status check_line(std::string_view line, const std::set<std::string>& known_keys) {
  line = trim(line);
  if (line.empty() || line.front() == '#' || line.front() == ';') return {};
  auto eq = line.find('=');
  if (eq == std::string_view::npos) return Status(ErrorCode::invalid_config, "expected `key = value`");
  std::string key(trim(line.substr(0, eq)));
  if (key.empty()) return Status(ErrorCode::invalid_config, "expected `key = value`, the key is missing");
  if (!known_keys.count(key)) {
    return error(ErrorCode::invalid_config, "unknown option '{}' (cairnd --help lists them)", key);
  }
  return {};
}

}  // namespace

Status check_config_file(const std::string& path, const std::set<std::string>& known_keys) {
  std::ifstream in(path);
  if (!in) return error(ErrorCode::invalid_config, "cannot read config file {}", path);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    Status checked = check_line(line, known_keys);
    if (!checked.ok()) return error(checked.code(), "{}:{}: {}", path, number, checked.message());
  }
  return {};
}

}  // namespace cairn::broker
