#include "tools/latency_histogram.h"

#include <algorithm>
#include <bit>

namespace cairn::tools {

size_t LatencyHistogram::index_of(int64_t micros) {
  auto v = static_cast<uint64_t>(std::max<int64_t>(micros, 0));
  if (v < kSubBuckets) return static_cast<size_t>(v);
  int magnitude = std::bit_width(v) - kSubBits;  // >= 1
  auto sub = static_cast<size_t>(v >> magnitude);  // in [64, 128)
  size_t index = static_cast<size_t>(magnitude) * kSubBuckets + sub;
  return std::min(index, static_cast<size_t>(kMagnitudes * kSubBuckets - 1));
}

int64_t LatencyHistogram::value_of(size_t index) {
  size_t magnitude = index / kSubBuckets;
  auto sub = static_cast<int64_t>(index % kSubBuckets);
  return magnitude == 0 ? sub : (sub << magnitude) + ((int64_t{1} << magnitude) - 1);
}

void LatencyHistogram::record(int64_t micros) {
  std::lock_guard lock(mutex_);
  ++counts_[index_of(micros)];
  ++count_;
  max_ = std::max(max_, micros);
  sum_ += static_cast<double>(micros);
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  std::scoped_lock lock(mutex_, other.mutex_);
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

int64_t LatencyHistogram::percentile(double p) const {
  std::lock_guard lock(mutex_);
  if (count_ == 0) return 0;
  auto rank = static_cast<int64_t>(p / 100.0 * static_cast<double>(count_) + 0.5);
  rank = std::clamp<int64_t>(rank, 1, count_);
  int64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(value_of(i), max_);
  }
  return max_;
}

int64_t LatencyHistogram::max() const {
  std::lock_guard lock(mutex_);
  return max_;
}

int64_t LatencyHistogram::count() const {
  std::lock_guard lock(mutex_);
  return count_;
}

double LatencyHistogram::mean() const {
  std::lock_guard lock(mutex_);
  return count_ ? sum_ / static_cast<double>(count_) : 0;
}

}  // namespace cairn::tools
