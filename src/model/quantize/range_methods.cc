#include "model/quantize/range_methods.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace imgsearch::model::quantize {

Result<RangeMethod> ParseRangeMethod(std::string_view name) {
  if (name == "minmax") return RangeMethod::kMinMax;
  if (name == "percentile") return RangeMethod::kPercentile;
  if (name == "entropy") return RangeMethod::kEntropy;
  return Status::InvalidArgument("unknown calibration method \"" + std::string(name) +
                                 "\" (expected minmax, percentile or entropy)");
}

const char* RangeMethodName(RangeMethod method) {
  switch (method) {
    case RangeMethod::kPercentile:
      return "percentile";
    case RangeMethod::kEntropy:
      return "entropy";
    case RangeMethod::kMinMax:
      break;
  }
  return "minmax";
}

void TensorRangeCollector::Add(const float* values, size_t count) {
  if (count == 0) return;
  float lo = values[0], hi = values[0];
  for (size_t i = 1; i < count; ++i) {
    lo = std::min(lo, values[i]);
    hi = std::max(hi, values[i]);
  }
  min_ = count_ == 0 ? lo : std::min(min_, lo);
  max_ = count_ == 0 ? hi : std::max(max_, hi);
  count_ += count;
  if (!histogram_) return;
  float abs_max = std::max(std::fabs(lo), std::fabs(hi));
  if (abs_max == 0) return;
  GrowTo(abs_max);
  const double per_bin = kBins / limit_;
  for (size_t i = 0; i < count; ++i) {
    if (values[i] == 0) continue;
    auto bin = static_cast<size_t>(std::fabs(values[i]) * per_bin);
    ++bins_[std::min(bin, size_t{kBins - 1})];
  }
}

void TensorRangeCollector::GrowTo(float abs_max) {
  if (limit_ == 0) {
    // Just above the largest value, so that it lands in the last bin by itself, as it
    // would after any number of doublings.
    limit_ = abs_max * (1.0 + 1.0 / (1 << 20));
    bins_.assign(kBins, 0);
    return;
  }
  while (abs_max > limit_) {
    for (int i = 0; i < kBins / 2; ++i) bins_[i] = bins_[2 * i] + bins_[2 * i + 1];
    std::fill(bins_.begin() + kBins / 2, bins_.end(), 0);
    limit_ *= 2;
  }
}

ValueRange TensorRangeCollector::Clip(double threshold) const {
  if (threshold <= 0) return observed();
  auto t = static_cast<float>(threshold);
  return {std::max(min_, -t), std::min(max_, t)};
}

ValueRange TensorRangeCollector::Range(RangeMethod method, double percentile) const {
  if (method == RangeMethod::kMinMax || bins_.empty()) return observed();
  if (method == RangeMethod::kPercentile) {
    return Clip(PercentileThreshold(bins_, bin_width(), percentile));
  }
  // Non-negative tensors (after Relu) get all 256 uint8 levels over [0, threshold].
  return Clip(EntropyThreshold(bins_, bin_width(), min_ >= 0 ? 256 : 128));
}

double PercentileThreshold(const std::vector<uint64_t>& bins, double bin_width, double percentile) {
  uint64_t total = 0;
  for (uint64_t c : bins) total += c;
  const double wanted = total * std::clamp(percentile, 0.0, 100.0) / 100.0;
  uint64_t seen = 0;
  for (size_t b = 0; b < bins.size(); ++b) {
    seen += bins[b];
    if (static_cast<double>(seen) >= wanted) return (b + 1) * bin_width;
  }
  return bins.size() * bin_width;
}

namespace {

// KL(P || Q) where P is bins[0, end) with the `outliers` above folded into its last bin,
// and Q is bins[0, end) merged into `levels` chunks, each chunk's count spread evenly
// over the chunk's non-empty bins (an empty bin stays empty after quantisation).
double ClippedDivergence(const std::vector<uint64_t>& bins, size_t end, uint64_t outliers,
                         int levels) {
  double p_total = 0;
  for (size_t b = 0; b < end; ++b) p_total += bins[b];
  const double q_total = p_total;
  p_total += outliers;
  if (q_total == 0) return std::numeric_limits<double>::infinity();
  // A bin that Q leaves empty but P does not (the last one, when it is empty and outliers
  // were folded in) is given a tiny probability instead of an infinite divergence.
  constexpr double kEmpty = 1e-9;
  double kl = 0;
  for (int level = 0; level < levels; ++level) {
    size_t first = end * level / levels, last = end * (level + 1) / levels;
    double sum = 0;
    int nonzero = 0;
    for (size_t b = first; b < last; ++b) {
      sum += bins[b];
      nonzero += bins[b] != 0;
    }
    for (size_t b = first; b < last; ++b) {
      double p = (bins[b] + (b + 1 == end ? outliers : 0)) / p_total;
      if (p == 0) continue;
      double q = bins[b] != 0 ? sum / nonzero / q_total : kEmpty;
      kl += p * std::log(p / q);
    }
  }
  return kl;
}

}  // namespace

double EntropyThreshold(const std::vector<uint64_t>& bins, double bin_width, int levels) {
  const size_t n = bins.size();
  if (n <= static_cast<size_t>(levels)) return n * bin_width;
  std::vector<uint64_t> above(n + 1, 0);  // above[i]: count in bins[i, n)
  for (size_t i = n; i-- > 0;) above[i] = above[i + 1] + bins[i];
  size_t best_end = n;
  double best = std::numeric_limits<double>::infinity();
  for (size_t end = levels; end <= n; ++end) {
    double kl = ClippedDivergence(bins, end, above[end], levels);
    if (kl < best) {
      best = kl;
      best_end = end;
    }
  }
  return best_end * bin_width;
}

}  // namespace imgsearch::model::quantize
