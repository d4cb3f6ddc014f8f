#include "model/postprocess.h"

#include <cmath>
#include <limits>

namespace imgsearch::model {

std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

Result<OutputGeometry> DescribeOutput(const std::vector<int64_t>& shape, const ModelSpec& spec) {
  OutputGeometry g;
  if (shape.size() == 2) {
    g.batch = shape[0];
    g.channels = shape[1];
    return g;
  }
  if (shape.size() != 4) {
    return Status::Unsupported("output \"" + spec.output + "\" has shape " + ShapeText(shape) +
                               ": expected rank 2 (N x D) or rank 4 (a spatial map to pool)");
  }
  if (spec.pooling == Pooling::kNone) {
    return Status::InvalidArgument("output \"" + spec.output + "\" has spatial shape " +
                                   ShapeText(shape) +
                                   ": set \"pooling\" to \"max\" or \"avg\" in the model spec");
  }
  g.batch = shape[0];
  g.channels_last = spec.output_layout == TensorLayout::kNhwc;
  g.channels = g.channels_last ? shape[3] : shape[1];
  g.spatial = g.channels_last ? shape[1] * shape[2] : shape[2] * shape[3];
  return g;
}

void PoolOutput(const float* data, const OutputGeometry& g, Pooling pooling, float* out) {
  const bool take_max = pooling == Pooling::kMax;
  for (int64_t n = 0; n < g.batch; ++n) {
    const float* item = data + n * g.channels * g.spatial;
    float* dst = out + n * g.channels;
    if (g.spatial == 1) {
      std::copy(item, item + g.channels, dst);
      continue;
    }
    for (int64_t c = 0; c < g.channels; ++c) {
      dst[c] = take_max ? -std::numeric_limits<float>::infinity() : 0.0f;
    }
    for (int64_t s = 0; s < g.spatial; ++s) {
      for (int64_t c = 0; c < g.channels; ++c) {
        float v = g.channels_last ? item[s * g.channels + c] : item[c * g.spatial + s];
        dst[c] = take_max ? std::max(dst[c], v) : dst[c] + v;
      }
    }
    if (!take_max) {
      for (int64_t c = 0; c < g.channels; ++c) dst[c] /= static_cast<float>(g.spatial);
    }
  }
}

void L2Normalize(std::span<float> v) {
  double sum = 0.0;
  for (float x : v) sum += static_cast<double>(x) * x;
  if (sum <= 0.0) return;
  float inverse = static_cast<float>(1.0 / std::sqrt(sum));
  for (float& x : v) x *= inverse;
}

void PackBits(std::span<const float> v, uint8_t* out) {
  for (size_t byte = 0; byte < v.size() / 8; ++byte) {
    uint8_t packed = 0;
    for (size_t bit = 0; bit < 8; ++bit)
      packed = static_cast<uint8_t>(packed << 1 | (v[byte * 8 + bit] > 0.0f));
    out[byte] = packed;
  }
}

}  // namespace imgsearch::model
