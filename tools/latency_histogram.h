#pragma once

#include <array>
#include <cstdint>
#include <mutex>

namespace cairn::tools {

// Latencies in microseconds, HDR-style: 128 linear sub-buckets per power of
// two, so every percentile is within 1% of the truth, in fixed memory
// (48 × 128 counters) from 1 µs to days. Thread-safe.
class LatencyHistogram {
 public:
  void record(int64_t micros);
  void merge(const LatencyHistogram& other);
  // The value at percentile p (0..100), in microseconds.
  int64_t percentile(double p) const;
  int64_t max() const;
  int64_t count() const;
  double mean() const;

 private:
  static constexpr int kSubBits = 7;
  static constexpr int kSubBuckets = 1 << kSubBits;
  static constexpr int kMagnitudes = 48;
  static size_t index_of(int64_t micros);
  static int64_t value_of(size_t index);

  mutable std::mutex mutex_;
  std::array<int64_t, kMagnitudes * kSubBuckets> counts_{};
  int64_t count_ = 0;
  int64_t max_ = 0;
  double sum_ = 0;
};

}  // namespace cairn::tools
