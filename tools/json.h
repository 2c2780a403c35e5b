#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cairn::tools {

// `text` as a JSON string literal, quotes included: quotes, backslashes and
// control characters escaped; other bytes as they are.
std::string json_string(std::string_view text);
// json_string of the text, or null.
std::string json_nullable(const std::optional<std::string>& text);

}  // namespace cairn::tools
