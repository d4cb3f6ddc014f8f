// The value range of one activation tensor over the calibration images, and the three
// ways to turn it into the range that int8 quantisation will cover:
//   minmax      the observed minimum and maximum;
//   percentile  |x| clipped at a high percentile of its histogram (outliers saturate);
//   entropy     |x| clipped at the threshold whose int8 version loses least information
//               (smallest KL divergence), the search TensorRT introduced.
// A TensorRangeCollector is not thread-safe; use one per tensor.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "imgsearch/status.h"

namespace imgsearch::model::quantize {

enum class RangeMethod { kMinMax, kPercentile, kEntropy };

Result<RangeMethod> ParseRangeMethod(std::string_view name);
const char* RangeMethodName(RangeMethod method);

struct ValueRange {
  float min = 0;
  float max = 0;
};

class TensorRangeCollector {
 public:
  // The histogram of |x| has this many bins over [0, limit); limit starts at the first
  // batch's max |x| and doubles when a batch goes past it, two bins merging into one, so
  // that no count ever lands in a bin it does not belong to. Exact zeros are left out:
  // every threshold keeps them exact, so they say nothing about where to clip, and the
  // spike of them after a Relu would otherwise drive the entropy search to thresholds
  // so low that the first bin alone holds it exactly.
  static constexpr int kBins = 2048;

  // `histogram`: false for minmax, which needs none (and saves the time).
  explicit TensorRangeCollector(bool histogram) : histogram_(histogram) {}

  void Add(const float* values, size_t count);

  uint64_t count() const { return count_; }
  // The observed range (0, 0 before any value).
  ValueRange observed() const { return {min_, max_}; }

  // The range to quantise for `method` (percentile: `percentile` of |x|, e.g. 99.99).
  ValueRange Range(RangeMethod method, double percentile) const;

  // The histogram (kBins counts) and the width of one bin; empty before a nonzero value.
  const std::vector<uint64_t>& histogram() const { return bins_; }
  double bin_width() const { return limit_ / kBins; }

 private:
  void GrowTo(float abs_max);
  // Clips the observed range to [-threshold, threshold].
  ValueRange Clip(double threshold) const;

  bool histogram_;
  uint64_t count_ = 0;
  float min_ = 0, max_ = 0;
  double limit_ = 0;           // the histogram covers [0, limit_)
  uint64_t zeros_before_ = 0;  // values seen while every value was 0 (no limit yet)
  std::vector<uint64_t> bins_;
};

// The smallest threshold below which `percentile` percent of the histogram's values lie.
double PercentileThreshold(const std::vector<uint64_t>& bins, double bin_width, double percentile);

// The threshold whose distribution, quantised to `levels` levels, is closest to the
// original in KL divergence (TensorRT's calibration). `levels` is 128 for values of
// both signs (one half of int8) and 256 for non-negative values (all of uint8).
double EntropyThreshold(const std::vector<uint64_t>& bins, double bin_width, int levels);

}  // namespace imgsearch::model::quantize
