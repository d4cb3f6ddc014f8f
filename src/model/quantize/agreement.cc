#include "model/quantize/agreement.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

namespace imgsearch::model::quantize {
namespace {

// Vectors as unit-length floats, one after another; binary bits become +1/-1.
std::vector<float> UnitVectors(const Embeddings& e) {
  std::vector<float> out(e.count * e.dimension);
  for (size_t i = 0; i < e.count; ++i) {
    float* v = out.data() + i * e.dimension;
    for (int d = 0; d < e.dimension; ++d) {
      v[d] = e.type == VectorType::kFloat
                 ? e.FloatVector(i)[d]
                 : ((e.BinaryVector(i)[d / 8] >> (7 - d % 8)) & 1 ? 1.f : -1.f);
    }
    double norm = std::sqrt(std::inner_product(v, v + e.dimension, v, 0.0));
    if (norm > 0) std::for_each(v, v + e.dimension, [&](float& x) { x = float(x / norm); });
  }
  return out;
}

double Dot(const float* a, const float* b, int dimension) {
  return std::inner_product(a, a + dimension, b, 0.0);
}

// The k images nearest to image `query` (itself excluded), by cosine.
std::set<size_t> Nearest(const std::vector<float>& unit, size_t count, int dimension, size_t query,
                         int k) {
  std::vector<std::pair<double, size_t>> scored;
  for (size_t j = 0; j < count; ++j) {
    if (j == query) continue;
    scored.emplace_back(-Dot(&unit[query * dimension], &unit[j * dimension], dimension), j);
  }
  std::partial_sort(scored.begin(), scored.begin() + k, scored.end());
  std::set<size_t> out;
  for (int i = 0; i < k; ++i) out.insert(scored[i].second);
  return out;
}

}  // namespace

VectorAgreement CompareVectors(const Embeddings& reference, const Embeddings& candidate, int k) {
  VectorAgreement a;
  a.images = std::min(reference.count, candidate.count);
  if (a.images == 0 || reference.dimension != candidate.dimension) return a;
  const int dim = reference.dimension;
  std::vector<float> ref = UnitVectors(reference), cand = UnitVectors(candidate);
  a.min_cosine = 1;
  for (size_t i = 0; i < a.images; ++i) {
    double cosine = Dot(&ref[i * dim], &cand[i * dim], dim);
    a.mean_cosine += cosine / a.images;
    a.min_cosine = std::min(a.min_cosine, cosine);
  }
  a.k = static_cast<int>(std::min<size_t>(k, a.images - 1));
  if (a.k < 1) return a;
  double found = 0;
  for (size_t i = 0; i < a.images; ++i) {
    std::set<size_t> want = Nearest(ref, a.images, dim, i, a.k);
    for (size_t j : Nearest(cand, a.images, dim, i, a.k)) found += want.count(j);
  }
  a.recall_at_k = found / (double(a.images) * a.k);
  return a;
}

}  // namespace imgsearch::model::quantize
