// Histogram: a fixed-bucket histogram of observations in the form
// Prometheus exposes, cumulative counts per upper bound (`le`), plus the
// sum and the count of all observations.
//
// Thread safety: Observe() and Read() may be called from any thread.
#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

namespace kojo {

// What a histogram held at one moment: counts[i] observations were at most
// bounds[i] (cumulative); `count` of them in all, whose values add up to `sum`.
struct HistogramSnapshot {
  std::vector<double> bounds;
  std::vector<std::uint64_t> counts;
  double sum = 0;
  std::uint64_t count = 0;
};

class Histogram {
 public:
  // Durations in seconds from 0.5 ms to 10 s, for requests, passes and commits.
  static std::vector<double> LatencyBounds() {
    return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  }

  // `bounds`: the buckets' upper bounds, ascending.
  explicit Histogram(std::vector<double> bounds = LatencyBounds())
      : bounds_(std::move(bounds)), counts_(bounds_.size(), 0) {}

  void Observe(double v) {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < bounds_.size(); ++i)
      if (v <= bounds_[i]) ++counts_[i];
    sum_ += v;
    ++count_;
  }

  HistogramSnapshot Read() const {
    std::lock_guard lock(mu_);
    return HistogramSnapshot{bounds_, counts_, sum_, count_};
  }

 private:
  mutable std::mutex mu_;
  const std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;  // cumulative, by bound
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

}  // namespace kojo
