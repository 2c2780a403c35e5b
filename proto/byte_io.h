#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

namespace cairn {

// Big-endian fixed-width integers and Kafka's zig-zag varints, the two
// integer encodings of the record-batch format (docs/record_batch.md).

template <typename T>
constexpr T byte_swap(T v) {
  using U = std::make_unsigned_t<T>;
  auto u = static_cast<U>(v);
  if constexpr (sizeof(T) == 2) u = __builtin_bswap16(u);
  if constexpr (sizeof(T) == 4) u = __builtin_bswap32(u);
  if constexpr (sizeof(T) == 8) u = __builtin_bswap64(u);
  return static_cast<T>(u);
}

template <typename T>
T load_be(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  if constexpr (std::endian::native == std::endian::little && sizeof(T) > 1) v = byte_swap(v);
  return v;
}

template <typename T>
void store_be(std::byte* p, T v) {
  if constexpr (std::endian::native == std::endian::little && sizeof(T) > 1) v = byte_swap(v);
  std::memcpy(p, &v, sizeof(T));
}

// Appends a zig-zag varint (Kafka's varint/varlong) to `out`.
void append_varint(std::string& out, int64_t value);

// Appends a big-endian fixed-width integer to `out`.
template <typename T>
void append_be(std::string& out, T v) {
  std::byte buf[sizeof(T)];
  store_be(buf, v);
  out.append(reinterpret_cast<const char*>(buf), sizeof(T));
}

// Reads from a byte span without ever reading past its end; every read
// reports failure instead of trusting lengths found in the data.
class ByteReader {
 public:
  explicit ByteReader(std::span<const std::byte> data) : data_(data) {}

  // Inline, and with the position in a local, because record validation
  // reads several per record on the append path. Fails (more than 10 bytes,
  // or the data ends first) without moving the position.
  std::optional<int64_t> varint() {
    uint64_t raw = 0;
    size_t pos = pos_;
    for (int shift = 0; shift < 64 && pos < data_.size(); shift += 7) {
      auto b = static_cast<uint8_t>(data_[pos++]);
      raw |= static_cast<uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) {
        pos_ = pos;
        return static_cast<int64_t>((raw >> 1) ^ (~(raw & 1) + 1));
      }
    }
    return std::nullopt;
  }
  std::optional<int8_t> int8() {
    if (pos_ >= data_.size()) return std::nullopt;
    return static_cast<int8_t>(data_[pos_++]);
  }
  // A length-prefixed field viewed in place (no copy): -1 is null (nullopt
  // inside), otherwise bytes. Returns false on malformed input. The view
  // lives as long as the data.
  bool nullable_view(std::optional<std::string_view>& out) {
    auto len = varint();
    if (!len || *len < -1) return false;
    if (*len == -1) {
      out.reset();
      return true;
    }
    auto field = take(static_cast<size_t>(*len));
    if (!field) return false;
    out.emplace(reinterpret_cast<const char*>(field->data()), field->size());
    return true;
  }
  bool bytes(std::string& out, size_t n);
  // The next `n` bytes, viewed in place; nullopt when fewer remain.
  std::optional<std::span<const std::byte>> take(size_t n) {
    if (n > remaining()) return std::nullopt;
    auto out = data_.subspan(pos_, n);
    pos_ += n;
    return out;
  }

  size_t remaining() const { return data_.size() - pos_; }
  size_t position() const { return pos_; }

 private:
  std::span<const std::byte> data_;
  size_t pos_ = 0;
};

inline std::span<const std::byte> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}
inline std::span<std::byte> as_writable_bytes(std::string& s) {
  return {reinterpret_cast<std::byte*>(s.data()), s.size()};
}
inline std::string_view as_chars(std::span<const std::byte> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

}  // namespace cairn
