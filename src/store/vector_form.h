// How a stored vector is handed to an index: COSINE indexes see unit-length vectors (so
// cosine similarity is their inner product); every other metric sees the bytes as stored.
#pragma once

#include <cmath>
#include <cstring>
#include <string>
#include <string_view>

#include "imgsearch/collection.h"
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

// A row's vector as the store keeps it: the bits of a binary vector, the floats' bytes.
inline std::string StoredVector(const CollectionSchema& schema, const Row& row) {
  if (schema.binary()) return std::string(row.binary_vector.begin(), row.binary_vector.end());
  return std::string(reinterpret_cast<const char*>(row.vector.data()),
                     row.vector.size() * sizeof(float));
}

}  // namespace imgsearch::store
