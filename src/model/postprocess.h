// From a model's raw output to the vectors imgsearch stores: spatial pooling, L2
// normalisation, and binarisation into packed bits.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "imgsearch/model_spec.h"
#include "imgsearch/status.h"

namespace imgsearch::model {

// How a batch output is laid out: `batch` items of `channels` values, each repeated over
// `spatial` positions (1 for a plain N x D output).
struct OutputGeometry {
  int64_t batch = 0;
  int64_t channels = 0;
  int64_t spatial = 1;
  bool channels_last = false;
};

// Interprets an output shape under the spec: rank 2 is N x D; rank 4 needs a pooling
// mode and the spec's output layout. Anything else is an error naming the shape.
Result<OutputGeometry> DescribeOutput(const std::vector<int64_t>& shape, const ModelSpec& spec);

// "[1, 3, 224, 224]", for messages.
std::string ShapeText(const std::vector<int64_t>& shape);

// Writes geometry.batch x geometry.channels pooled values to `out`.
void PoolOutput(const float* data, const OutputGeometry& geometry, Pooling pooling, float* out);

// Scales v to unit Euclidean length; an all-zero vector stays zero.
void L2Normalize(std::span<float> v);

// Bit i of the result (most significant bit of byte i / 8 first) is set when v[i] > 0.
void PackBits(std::span<const float> v, uint8_t* out);

}  // namespace imgsearch::model
