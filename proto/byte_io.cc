#include "proto/byte_io.h"

namespace cairn {

void append_varint(std::string& out, int64_t value) {
  auto zigzag = (static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63);
  while (zigzag >= 0x80) {
    out.push_back(static_cast<char>((zigzag & 0x7F) | 0x80));
    zigzag >>= 7;
  }
  out.push_back(static_cast<char>(zigzag));
}

std::optional<int64_t> ByteReader::varint() {
  uint64_t raw = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos_ >= data_.size()) return std::nullopt;
    auto b = static_cast<uint8_t>(data_[pos_++]);
    raw |= static_cast<uint64_t>(b & 0x7F) << shift;
    if ((b & 0x80) == 0) return static_cast<int64_t>((raw >> 1) ^ (~(raw & 1) + 1));
  }
  return std::nullopt;  // more than 10 bytes: not a varint
}

std::optional<int8_t> ByteReader::int8() {
  if (pos_ >= data_.size()) return std::nullopt;
  return static_cast<int8_t>(data_[pos_++]);
}

bool ByteReader::bytes(std::string& out, size_t n) {
  if (n > remaining()) return false;
  out.assign(reinterpret_cast<const char*>(data_.data() + pos_), n);
  pos_ += n;
  return true;
}

std::optional<std::span<const std::byte>> ByteReader::take(size_t n) {
  if (n > remaining()) return std::nullopt;
  auto out = data_.subspan(pos_, n);
  pos_ += n;
  return out;
}

bool ByteReader::nullable_view(std::optional<std::string_view>& out) {
  auto len = varint();
  if (!len || *len < -1) return false;
  if (*len == -1) {
    out.reset();
    return true;
  }
  auto field = take(static_cast<size_t>(*len));
  if (!field) return false;
  out = as_chars(*field);
  return true;
}

}  // namespace cairn
