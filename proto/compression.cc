#include "proto/compression.h"

#include <lz4frame.h>
#include <zstd.h>

#include <memory>

namespace cairn {

std::string_view compression_name(Compression c) {
  switch (c) {
    case Compression::none: return "none";
    case Compression::gzip: return "gzip";
    case Compression::snappy: return "snappy";
    case Compression::lz4: return "lz4";
    case Compression::zstd: return "zstd";
  }
  return "unknown";
}

Result<Compression> parse_compression(std::string_view name) {
  if (name == "none") return Compression::none;
  if (name == "lz4") return Compression::lz4;
  if (name == "zstd") return Compression::zstd;
  return error(ErrorCode::invalid_config, "unknown compression '{}': use none, lz4 or zstd", name);
}

namespace {

Result<std::string> compress_lz4(std::string_view input) {
  LZ4F_preferences_t prefs{};
  prefs.frameInfo.contentSize = input.size();
  std::string out(LZ4F_compressFrameBound(input.size(), &prefs), '\0');
  size_t n = LZ4F_compressFrame(out.data(), out.size(), input.data(), input.size(), &prefs);
  if (LZ4F_isError(n)) return error(ErrorCode::unknown, "lz4: {}", LZ4F_getErrorName(n));
  out.resize(n);
  return out;
}

Result<std::string> decompress_lz4(std::span<const std::byte> input, size_t max_output) {
  LZ4F_dctx* raw = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&raw, LZ4F_VERSION))) {
    return error(ErrorCode::unknown, "lz4: cannot create a decompression context");
  }
  std::unique_ptr<LZ4F_dctx, decltype(&LZ4F_freeDecompressionContext)> ctx(
      raw, &LZ4F_freeDecompressionContext);
  std::string out;
  const auto* src = reinterpret_cast<const char*>(input.data());
  size_t src_left = input.size();
  char chunk[64 * 1024];
  while (true) {
    size_t dst_size = sizeof(chunk);
    size_t src_size = src_left;
    size_t hint = LZ4F_decompress(ctx.get(), chunk, &dst_size, src, &src_size, nullptr);
    if (LZ4F_isError(hint)) {
      return error(ErrorCode::corrupt_batch, "lz4: {}", LZ4F_getErrorName(hint));
    }
    if (out.size() + dst_size > max_output) {
      return error(ErrorCode::record_too_large, "lz4: records expand beyond {} bytes", max_output);
    }
    out.append(chunk, dst_size);
    src += src_size;
    src_left -= src_size;
    if (hint == 0) {  // frame complete: a batch holds exactly one
      if (src_left != 0) {
        return error(ErrorCode::corrupt_batch, "lz4: {} bytes after the end of the frame", src_left);
      }
      return out;
    }
    if (src_left == 0 && dst_size == 0) {
      return error(ErrorCode::corrupt_batch, "lz4: truncated frame");
    }
  }
}

Result<std::string> compress_zstd(std::string_view input) {
  std::string out(ZSTD_compressBound(input.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), input.data(), input.size(), 1);
  if (ZSTD_isError(n)) return error(ErrorCode::unknown, "zstd: {}", ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

Result<std::string> decompress_zstd(std::span<const std::byte> input, size_t max_output) {
  std::unique_ptr<ZSTD_DStream, decltype(&ZSTD_freeDStream)> stream(ZSTD_createDStream(),
                                                                    &ZSTD_freeDStream);
  std::string out;
  ZSTD_inBuffer in{input.data(), input.size(), 0};
  char chunk[64 * 1024];
  size_t last = 1;
  while (in.pos < in.size || last != 0) {
    ZSTD_outBuffer dst{chunk, sizeof(chunk), 0};
    last = ZSTD_decompressStream(stream.get(), &dst, &in);
    if (ZSTD_isError(last)) {
      return error(ErrorCode::corrupt_batch, "zstd: {}", ZSTD_getErrorName(last));
    }
    if (out.size() + dst.pos > max_output) {
      return error(ErrorCode::record_too_large, "zstd: records expand beyond {} bytes", max_output);
    }
    out.append(chunk, dst.pos);
    if (in.pos == in.size && dst.pos == 0 && last != 0) {
      return error(ErrorCode::corrupt_batch, "zstd: truncated frame");
    }
  }
  return out;
}

}  // namespace

Result<std::string> compress(Compression codec, std::string_view input) {
  switch (codec) {
    case Compression::none: return std::string(input);
    case Compression::lz4: return compress_lz4(input);
    case Compression::zstd: return compress_zstd(input);
    default: return error(ErrorCode::invalid_request, "compression {} is not supported",
                          compression_name(codec));
  }
}

Result<std::string> decompress(Compression codec, std::span<const std::byte> input,
                               size_t max_output_bytes) {
  switch (codec) {
    case Compression::none:
      return std::string(reinterpret_cast<const char*>(input.data()), input.size());
    case Compression::lz4: return decompress_lz4(input, max_output_bytes);
    case Compression::zstd: return decompress_zstd(input, max_output_bytes);
    default: return error(ErrorCode::corrupt_batch, "compression {} is not supported",
                          compression_name(codec));
  }
}

}  // namespace cairn
