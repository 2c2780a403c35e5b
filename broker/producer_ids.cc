#include "broker/producer_ids.h"

#include <algorithm>
#include <charconv>
#include <chrono>

#include "storage/durable_file.h"

namespace cairn::broker {

namespace {

constexpr int64_t kCounterLimit = int64_t{1} << ProducerIdAllocator::kCounterBits;

// Reaches the counter's limit in the year 2106.
int64_t counter_floor_now() {
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  return seconds * 256;
}

}  // namespace

Result<std::unique_ptr<ProducerIdAllocator>> ProducerIdAllocator::open(storage::Env& env,
                                                                       std::string path,
                                                                       int32_t node_id) {
  if (node_id < 0 || node_id >= (1 << (63 - kCounterBits))) {
    return error(ErrorCode::invalid_config, "node id {} leaves no room for producer ids: at most {}",
                 node_id, (1 << (63 - kCounterBits)) - 1);
  }
  std::unique_ptr<ProducerIdAllocator> allocator(new ProducerIdAllocator(env, path, node_id));
  auto contents = storage::read_small_file(env, path, 64);
  if (!contents.ok()) return contents.status();
  int64_t reserved = 0;
  if (*contents) {
    std::string_view text = **contents;
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), reserved);
    if (ec != std::errc() || end != text.data() + text.size() || reserved < 0) {
      return error(ErrorCode::storage_corrupt,
                   "{} should hold the next producer id counter, not '{}'; remove it only if no "
                   "producer of this broker wrote in the last day", path, text);
    }
  }
  allocator->next_ = allocator->reserved_ = std::max(reserved, counter_floor_now());
  return allocator;
}

Status ProducerIdAllocator::reserve_locked() {
  int64_t end = std::max(next_, counter_floor_now()) + kBlockSize;
  if (end > kCounterLimit) {
    return error(ErrorCode::resource_exhausted, "broker {} handed out every producer id it has",
                 node_id_);
  }
  CAIRN_RETURN_IF_ERROR(storage::replace_file_durably(env_, path_, std::to_string(end) + "\n"));
  next_ = end - kBlockSize;
  reserved_ = end;
  return {};
}

Result<int64_t> ProducerIdAllocator::next() {
  std::lock_guard lock(mutex_);
  if (next_ >= reserved_) CAIRN_RETURN_IF_ERROR(reserve_locked());
  return (int64_t{node_id_} << kCounterBits) | next_++;
}

}  // namespace cairn::broker
