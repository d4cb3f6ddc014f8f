// Re-ranking by query expansion (αQE, Radenović et al., TPAMI 2018): each float model
// searches again with its query plus the vectors of the first answer's top N images,
// weighted by their similarity to the query raised to α (α = 0: average QE), the sum
// normalised to unit length. Searched alone, a model expands with its own top N; fused,
// every model expands with the fused ranking's top N, so that a weak model is led by the
// stronger ones. Binary models (Hamming, Jaccard) have no sum of vectors: they are left as
// they are.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "imgsearch/status.h"
#include "index/metric.h"

namespace imgsearch::pipeline {

struct Rerank {
  int qe = 0;        // top hits the query is expanded with; 0: no re-ranking
  double alpha = 0;  // weight of a hit: similarity^alpha (0: all 1)

  bool on() const { return qe > 0; }
  // "off", or "qe:N,alpha=A" (what ParseRerank reads back).
  std::string ToString() const;
  bool operator==(const Rerank&) const = default;
};

inline constexpr int kDefaultQe = 5;
inline constexpr double kDefaultAlpha = 3;
inline constexpr int kMaxQe = 100;

// "off" or "none"; "qe" (N = 5, alpha = 3), "qe:N", "qe:N,alpha=A", "qe,alpha=A"; N 1..100,
// A 0..20. Anything else is kInvalidArgument.
Result<Rerank> ParseRerank(std::string_view text);

// The similarity behind a float metric's internal distance (index::Distance): IP and
// COSINE directly, L2 as 1 - d/2 (the inner product of unit vectors at squared distance d).
double SimilarityOf(index::Metric metric, float internal_distance);

// The expanded query: normalise(q + sum_i max(0, sim_i)^alpha x_i), sim_i the similarity of
// neighbour i to q (for COSINE, q and x_i taken at unit length), at the length of q (unit
// for unit vectors, which the library's models make). Neighbours of another size than q are
// skipped. An all-zero sum gives q back.
std::vector<float> ExpandQuery(index::Metric metric, const std::vector<float>& query,
                               const std::vector<std::vector<float>>& neighbours, double alpha);

}  // namespace imgsearch::pipeline
