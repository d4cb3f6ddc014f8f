// The arithmetic of int8 quantisation, kept apart from graphs so each rule can be checked
// by hand: per-channel symmetric int8 weights, int32 biases, uint8 asymmetric activations.
// Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "model/quantize/range_methods.h"

namespace imgsearch::model::quantize {

// A weight tensor quantised per output channel: value = q * scales[channel], zero point 0.
struct ChannelQuantized {
  std::vector<int8_t> values;  // same layout as the float weights
  std::vector<float> scales;   // one per channel along `axis`
};

// scale = max |w| / 127 over each slice along `axis` of a tensor of `dims` (a channel of
// zeros gets scale 1), q = round(w / scale) in [-127, 127]: a grid symmetric about 0, so
// that +max and -max are equally exact.
ChannelQuantized QuantizeWeightsPerChannel(const std::vector<float>& weights,
                                           const std::vector<int64_t>& dims, int axis);

// A bias as int32 with scale input_scale * weight_scales[c] per channel (zero point 0),
// which is what an int8 kernel adds to its int32 accumulator; saturates at the int32 range.
std::vector<int32_t> QuantizeBias(const std::vector<float>& bias, float input_scale,
                                  const std::vector<float>& weight_scales);

// uint8 asymmetric parameters: value = (q - zero_point) * scale.
struct ActivationParams {
  float scale = 1;
  uint8_t zero_point = 0;
};

// Covers `range` widened to include 0 (so that 0, used for padding, is exact); a tensor
// that was always 0 gets scale 1.
ActivationParams ActivationParamsFor(ValueRange range);

}  // namespace imgsearch::model::quantize
