#include <catch2/catch.hpp>

#include <string>

#include "proto/byte_io.h"
#include "proto/crc32c.h"

using namespace cairn;

TEST_CASE("Crc32cMatchesKnownVectors", "[crc32c]") {
  // RFC 3720 B.4 test vectors.
  CHECK(crc32c::value(as_bytes("123456789")) == 0xE3069283u);
  CHECK(crc32c::value(as_bytes(std::string(32, '\0'))) == 0x8A9136AAu);
  CHECK(crc32c::value(as_bytes(std::string(32, '\xff'))) == 0x62A8AB43u);
}

TEST_CASE("Crc32cExtendEqualsOneShot", "[crc32c]") {
  std::string data;
  for (int i = 0; i < 1000; ++i) data.push_back(static_cast<char>(i * 7));
  auto whole = crc32c::value(as_bytes(data));
  for (size_t split : {0, 1, 7, 8, 9, 500, 999, 1000}) {
    auto first = crc32c::value(as_bytes(std::string_view(data).substr(0, split)));
    CHECK(crc32c::extend(first, as_bytes(std::string_view(data).substr(split))) == whole);
  }
}
