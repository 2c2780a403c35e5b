#include "tools/json.h"

#include <fmt/format.h>

namespace cairn::tools {
namespace {

// The length of the valid UTF-8 sequence `text` starts with, or 0 if its
// first byte does not start one (overlong forms and surrogates included).
size_t utf8_sequence_length(std::string_view text) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  auto continuation = [&](size_t i) { return i < text.size() && (byte(i) & 0xc0) == 0x80; };
  unsigned char b = byte(0);
  if (b >= 0xc2 && b <= 0xdf) return continuation(1) ? 2 : 0;
  if (b >= 0xe0 && b <= 0xef) {
    if (!continuation(1) || !continuation(2)) return 0;
    if (b == 0xe0 && byte(1) < 0xa0) return 0;   // overlong
    if (b == 0xed && byte(1) >= 0xa0) return 0;  // surrogate
    return 3;
  }
  if (b >= 0xf0 && b <= 0xf4) {
    if (!continuation(1) || !continuation(2) || !continuation(3)) return 0;
    if (b == 0xf0 && byte(1) < 0x90) return 0;  // overlong
    if (b == 0xf4 && byte(1) >= 0x90) return 0;  // past U+10FFFF
    return 4;
  }
  return 0;
}

}  // namespace

std::string json_string(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (static_cast<unsigned char>(c) >= 0x80) {
      size_t length = utf8_sequence_length(text.substr(i));
      if (length == 0) {
        out += "\ufffd";
      } else {
        out += text.substr(i, length);
        i += length - 1;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

std::string json_nullable(const std::optional<std::string>& text) {
  return text ? json_string(*text) : std::string("null");
}

}  // namespace cairn::tools
