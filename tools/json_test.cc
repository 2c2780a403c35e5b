#include "tools/json.h"

#include <catch2/catch.hpp>

using namespace cairn::tools;

TEST_CASE("JsonStringsAreValidJsonWhateverTheBytes", "[cli]") {
  CHECK(json_string("plain") == "\"plain\"");
  CHECK(json_string("a\"b\\c\n\t\x01") == "\"a\\\"b\\\\c\\n\\t\\u0001\"");
  CHECK(json_string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") == "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
  // Bytes that are not UTF-8 (binary values, Latin-1, overlong forms,
  // surrogates) become U+FFFD, itself written in UTF-8.
  const std::string r = "\xef\xbf\xbd";
  CHECK(json_string("\xff\xfe") == "\"" + r + r + "\"");
  CHECK(json_string("caf\xe9") == "\"caf" + r + "\"");
  CHECK(json_string("\xc0\xaf") == "\"" + r + r + "\"");
  CHECK(json_string("\xed\xa0\x80") == "\"" + r + r + r + "\"");
  CHECK(json_string("\xe2\x82") == "\"" + r + r + "\"");  // cut short
  CHECK(json_nullable(std::nullopt) == "null");
}
