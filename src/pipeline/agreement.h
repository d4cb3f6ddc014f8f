// Fusing and comparing the rankings of several models. Pure functions over ranked id
// lists, so each figure can be checked against a hand computation.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace imgsearch::pipeline {

struct Ranked {
  int64_t id;
  float distance;  // smaller is nearer
};

struct Fused {
  int64_t id;
  double score;  // larger is better
};

// Reciprocal rank fusion: score = sum over models of 1 / (k0 + rank), rank from 1.
std::vector<Fused> FuseRrf(const std::vector<std::vector<Ranked>>& lists, size_t k, double k0 = 60);

// Weighted reciprocal rank fusion: score = sum over models of weight / (k0 + rank). A list
// whose weight is 0 (or missing) adds nothing, not even its ids. Learned weights
// (pipeline/tune.h) are used this way.
std::vector<Fused> FuseWeightedRrf(const std::vector<std::vector<Ranked>>& lists,
                                   const std::vector<double>& weights, size_t k, double k0 = 60);

// Weighted fusion: each list's distances mapped to [0, 1] similarity (nearest 1, farthest
// 0), multiplied by the model's weight and summed; an id missing from a list adds 0.
std::vector<Fused> FuseWeighted(const std::vector<std::vector<Ranked>>& lists,
                                const std::vector<double>& weights, size_t k);

// How one model's distances compare with another's: the distance between two unrelated
// images of the library (`center`, the median over random pairs) and how widely it varies
// (`spread`, the median absolute deviation scaled to a standard deviation). L2 distances
// come squared, as Milvus reports them; `root` compares their square roots, which spread
// evenly.
struct DistanceScale {
  double center = 0;
  double spread = 1;
  bool root = false;
  // How many spreads nearer than two unrelated images: larger is nearer.
  double StandardScore(float distance) const;
};

// Standardised fusion: score = sum over models of weight x StandardScore(distance). A hit
// counts for as much as it stands out from chance under its model, so on each query the
// model whose hits are unusually near weighs more than one whose hits are barely nearer
// than any image. An id missing from a list adds 0 (as if at the typical distance); a list
// whose weight is 0 adds nothing, not even its ids. The tuned fusion (pipeline/tune.h).
std::vector<Fused> FuseStandardized(const std::vector<std::vector<Ranked>>& lists,
                                    const std::vector<double>& weights,
                                    const std::vector<DistanceScale>& scales, size_t k);

struct PairAgreement {
  double overlap = 0;   // |A and B| / K
  double jaccard = 0;   // |A and B| / |A or B|
  double spearman = 0;  // rank correlation over the union (absent: rank K + 1)
  double kendall = 0;   // tau-b over the union
};

PairAgreement Agreement(const std::vector<int64_t>& a, const std::vector<int64_t>& b);

struct DistanceStats {
  double min = 0, max = 0, mean = 0, median = 0;
};
DistanceStats Stats(const std::vector<Ranked>& list);

// Retrieval quality of one ranked list against the set of relevant ids.
double PrecisionAtK(const std::vector<int64_t>& ranked, const std::vector<int64_t>& relevant,
                    size_t k);
double RecallAtK(const std::vector<int64_t>& ranked, const std::vector<int64_t>& relevant,
                 size_t k);
// Average precision at K: mean of precision@i at each relevant hit i <= K, divided by
// min(K, number of relevant ids).
double AveragePrecisionAtK(const std::vector<int64_t>& ranked, const std::vector<int64_t>& relevant,
                           size_t k);

}  // namespace imgsearch::pipeline
