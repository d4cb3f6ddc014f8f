// How a stored vector is handed to an index: COSINE indexes see unit-length vectors (so
// cosine similarity is their inner product); every other metric sees the bytes as stored.
#pragma once

#include <cmath>
#include <cstring>
#include <string>
#include <string_view>

#include "index/metric.h"

namespace imgsearch::store {

inline std::string IndexedForm(index::Metric metric, std::string_view stored) {
  std::string out(stored);
  if (metric != index::Metric::kCosine) return out;
  auto* v = reinterpret_cast<float*>(out.data());
  size_t dim = out.size() / sizeof(float);
  double norm = 0;
  for (size_t i = 0; i < dim; ++i) norm += double(v[i]) * v[i];
  if (norm > 0) {
    float inverse = static_cast<float>(1.0 / std::sqrt(norm));
    for (size_t i = 0; i < dim; ++i) v[i] *= inverse;
  }
  return out;
}

}  // namespace imgsearch::store
