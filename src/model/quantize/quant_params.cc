#include "model/quantize/quant_params.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace imgsearch::model::quantize {
namespace {

// Element i of a tensor of `dims` lies in channel (i / inner) % channels along `axis`.
struct AxisGeometry {
  int64_t channels = 1;
  int64_t inner = 1;  // product of the dims after `axis`
};

AxisGeometry Geometry(const std::vector<int64_t>& dims, int axis) {
  AxisGeometry g;
  g.channels = dims[axis];
  for (size_t d = axis + 1; d < dims.size(); ++d) g.inner *= dims[d];
  return g;
}

}  // namespace

ChannelQuantized QuantizeWeightsPerChannel(const std::vector<float>& weights,
                                           const std::vector<int64_t>& dims, int axis) {
  const AxisGeometry g = Geometry(dims, axis);
  std::vector<float> abs_max(g.channels, 0.0f);
  for (size_t i = 0; i < weights.size(); ++i) {
    int64_t c = (static_cast<int64_t>(i) / g.inner) % g.channels;
    abs_max[c] = std::max(abs_max[c], std::fabs(weights[i]));
  }
  ChannelQuantized out;
  out.scales.resize(g.channels);
  for (int64_t c = 0; c < g.channels; ++c) {
    out.scales[c] = abs_max[c] > 0 ? abs_max[c] / 127.0f : 1.0f;
  }
  out.values.resize(weights.size());
  for (size_t i = 0; i < weights.size(); ++i) {
    int64_t c = (static_cast<int64_t>(i) / g.inner) % g.channels;
    float q = std::nearbyint(weights[i] / out.scales[c]);
    out.values[i] = static_cast<int8_t>(std::clamp(q, -127.0f, 127.0f));
  }
  return out;
}

std::vector<int32_t> QuantizeBias(const std::vector<float>& bias, float input_scale,
                                  const std::vector<float>& weight_scales) {
  constexpr double kMax = std::numeric_limits<int32_t>::max();
  std::vector<int32_t> out(bias.size());
  for (size_t c = 0; c < bias.size(); ++c) {
    double scale = static_cast<double>(input_scale) * weight_scales[c];
    double q = std::nearbyint(bias[c] / scale);
    out[c] = static_cast<int32_t>(std::clamp(q, -kMax, kMax));
  }
  return out;
}

ActivationParams ActivationParamsFor(ValueRange range) {
  const double lo = std::min(0.0f, range.min), hi = std::max(0.0f, range.max);
  ActivationParams p;
  if (hi - lo <= 0) return p;
  p.scale = static_cast<float>((hi - lo) / 255.0);
  double zero = std::nearbyint(-lo / p.scale);
  p.zero_point = static_cast<uint8_t>(std::clamp(zero, 0.0, 255.0));
  return p;
}

}  // namespace imgsearch::model::quantize
