// The POSIX env against the real file system.

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "storage/env.h"

using namespace cairn;
using namespace cairn::storage;

namespace {

// How many of the pages of [offset, offset + length) of `path` are in the
// page cache (mincore of a read-only mapping, which reads nothing).
size_t cached_pages(const std::string& path, uint64_t size, uint64_t offset, uint64_t length) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  REQUIRE(map != MAP_FAILED);
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> resident(length / page);
  int rc = ::mincore(static_cast<char*>(map) + offset, length, resident.data());
  ::munmap(map, size);
  REQUIRE(rc == 0);
  size_t count = 0;
  for (unsigned char r : resident) count += r & 1;
  return count;
}

}  // namespace

TEST_CASE("PosixFile.SyncHandsBackTheCacheOfBytesFarBehindTheEnd", "[env]") {
  // In the working folder, not /tmp: a tmpfs keeps its pages in memory.
  auto dir = std::filesystem::current_path() /
             ("cairn-posix-env-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "segment.log").string();
  const uint64_t chunk = 1 << 20;
  const uint64_t size = kCachedTailBytes + 32 * chunk;
  {
    auto file = Env::posix().open_file(path, true);
    REQUIRE(file.ok());
    std::vector<std::byte> bytes(chunk, std::byte{0x5a});
    for (uint64_t written = 0; written < size; written += chunk) {
      REQUIRE((*file)->append(bytes).ok());
      REQUIRE((*file)->sync().ok());
    }
    // The head (synced long ago) left the cache; the last chunk, synced
    // just now and inside the kept tail, is still there.
    CHECK(cached_pages(path, size, 0, 16 * chunk) == 0);
    CHECK(cached_pages(path, size, size - chunk, chunk) == chunk / 4096);
    // Dropping the cache lost nothing.
    std::vector<std::byte> head(chunk);
    auto read = (*file)->read(0, head);
    REQUIRE(read.ok());
    CHECK(*read == chunk);
    CHECK(head == bytes);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("PosixFile.ZerosWrittenAheadStayOutOfItsSizeUntilReopened", "[env]") {
  auto dir = std::filesystem::current_path() / ("cairn-posix-zeros-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "segment.log").string();
  const std::vector<std::byte> data(1000, std::byte{0x5a});
  {
    auto file = Env::posix().open_file(path, true);
    REQUIRE(file.ok());
    REQUIRE((*file)->append(data).ok());
    REQUIRE((*file)->zero_ahead(300'000).ok());
    CHECK((*file)->size() == 1000);
    CHECK(std::filesystem::file_size(path) == 300'000);
    // Appends overwrite the zeros; the file does not grow.
    REQUIRE((*file)->append(data).ok());
    REQUIRE((*file)->sync().ok());
    CHECK((*file)->size() == 2000);
    CHECK(std::filesystem::file_size(path) == 300'000);
    // Zeros already written are not written again over appended bytes.
    REQUIRE((*file)->zero_ahead(200'000).ok());
    std::vector<std::byte> back(2001);
    REQUIRE(*(*file)->read(0, back) == 2001);
    CHECK(std::count(back.begin(), back.end(), std::byte{0x5a}) == 2000);
    CHECK(back.back() == std::byte{0});
  }
  {
    // Whoever opens it next counts the zeros; a truncate cuts them.
    auto file = Env::posix().open_file(path, false);
    REQUIRE(file.ok());
    CHECK((*file)->size() == 300'000);
    REQUIRE((*file)->truncate(2000).ok());
    CHECK(std::filesystem::file_size(path) == 2000);
  }
  std::filesystem::remove_all(dir);
}
