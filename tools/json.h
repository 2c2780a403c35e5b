#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cairn::tools {

// `text` as a JSON string literal, quotes included: quotes, backslashes and
// control characters escaped. JSON is UTF-8: a byte that is not part of a
// valid UTF-8 sequence is written as U+FFFD (so binary keys and values are
// shown lossily; `cairn log dump` shows their bytes).
std::string json_string(std::string_view text);
// json_string of the text, or null.
std::string json_nullable(const std::optional<std::string>& text);

}  // namespace cairn::tools
