#include "pipeline/agreement.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace imgsearch::pipeline {
namespace {

std::vector<Fused> TopByScore(const std::map<int64_t, double>& scores, size_t k) {
  std::vector<Fused> out;
  for (const auto& [id, score] : scores) out.push_back({id, score});
  std::sort(out.begin(), out.end(), [](const Fused& a, const Fused& b) {
    return a.score > b.score || (a.score == b.score && a.id < b.id);
  });
  if (out.size() > k) out.resize(k);
  return out;
}

// Rank (from 1) of each id of the union in `list`; absent ids get list.size() + 1.
std::vector<double> RanksOver(const std::vector<int64_t>& list, const std::vector<int64_t>& items) {
  std::vector<double> ranks;
  for (int64_t id : items) {
    auto it = std::find(list.begin(), list.end(), id);
    ranks.push_back(it == list.end() ? double(list.size() + 1) : double(it - list.begin() + 1));
  }
  return ranks;
}

double Pearson(const std::vector<double>& x, const std::vector<double>& y) {
  size_t n = x.size();
  if (n < 2) return 1.0;
  double mx = 0, my = 0;
  for (size_t i = 0; i < n; ++i) mx += x[i], my += y[i];
  mx /= n, my /= n;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < n; ++i) {
    sxy += (x[i] - mx) * (y[i] - my), sxx += (x[i] - mx) * (x[i] - mx),
        syy += (y[i] - my) * (y[i] - my);
  }
  return sxx == 0 || syy == 0 ? 0.0 : sxy / std::sqrt(sxx * syy);
}

// Kendall's tau-b, which accounts for the ties that absent items create.
double KendallTauB(const std::vector<double>& x, const std::vector<double>& y) {
  double concordant = 0, discordant = 0, ties_x = 0, ties_y = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    for (size_t j = i + 1; j < x.size(); ++j) {
      double dx = x[i] - x[j], dy = y[i] - y[j];
      if (dx == 0 && dy == 0) continue;
      if (dx == 0) {
        ++ties_x;
      } else if (dy == 0) {
        ++ties_y;
      } else if ((dx > 0) == (dy > 0)) {
        ++concordant;
      } else {
        ++discordant;
      }
    }
  }
  double denominator =
      std::sqrt((concordant + discordant + ties_x) * (concordant + discordant + ties_y));
  return denominator == 0 ? 1.0 : (concordant - discordant) / denominator;
}

size_t Hits(const std::vector<int64_t>& ranked, const std::vector<int64_t>& relevant, size_t k) {
  std::set<int64_t> wanted(relevant.begin(), relevant.end());
  size_t hits = 0;
  for (size_t i = 0; i < ranked.size() && i < k; ++i) hits += wanted.count(ranked[i]);
  return hits;
}

}  // namespace

std::vector<Fused> FuseRrf(const std::vector<std::vector<Ranked>>& lists, size_t k, double k0) {
  return FuseWeightedRrf(lists, std::vector<double>(lists.size(), 1.0), k, k0);
}

std::vector<Fused> FuseWeightedRrf(const std::vector<std::vector<Ranked>>& lists,
                                   const std::vector<double>& weights, size_t k, double k0) {
  std::map<int64_t, double> scores;
  for (size_t m = 0; m < lists.size() && m < weights.size(); ++m) {
    if (weights[m] <= 0) continue;
    const auto& list = lists[m];
    for (size_t r = 0; r < list.size(); ++r)
      scores[list[r].id] += weights[m] / (k0 + double(r + 1));
  }
  return TopByScore(scores, k);
}

std::vector<Fused> FuseWeighted(const std::vector<std::vector<Ranked>>& lists,
                                const std::vector<double>& weights, size_t k) {
  std::map<int64_t, double> scores;
  for (size_t m = 0; m < lists.size(); ++m) {
    const auto& list = lists[m];
    if (list.empty()) continue;
    double lo = list.front().distance, hi = list.back().distance;
    for (const Ranked& r : list) {
      double similarity = hi > lo ? (hi - r.distance) / (hi - lo) : 1.0;
      scores[r.id] += (m < weights.size() ? weights[m] : 1.0) * similarity;
    }
  }
  return TopByScore(scores, k);
}

double DistanceScale::StandardScore(float distance) const {
  double d = root ? std::sqrt(std::max(0.0, double(distance))) : double(distance);
  return (center - d) / spread;
}

std::vector<Fused> FuseStandardized(const std::vector<std::vector<Ranked>>& lists,
                                    const std::vector<double>& weights,
                                    const std::vector<DistanceScale>& scales, size_t k) {
  std::map<int64_t, double> scores;
  for (size_t m = 0; m < lists.size() && m < weights.size() && m < scales.size(); ++m) {
    if (weights[m] <= 0) continue;
    for (const Ranked& r : lists[m])
      scores[r.id] += weights[m] * scales[m].StandardScore(r.distance);
  }
  return TopByScore(scores, k);
}

PairAgreement Agreement(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  PairAgreement out;
  std::set<int64_t> sa(a.begin(), a.end()), sb(b.begin(), b.end()), all = sa;
  all.insert(sb.begin(), sb.end());
  size_t common = 0;
  for (int64_t id : sa) common += sb.count(id);
  size_t k = std::max(a.size(), b.size());
  out.overlap = k ? double(common) / k : 1.0;
  out.jaccard = all.empty() ? 1.0 : double(common) / all.size();
  std::vector<int64_t> items(all.begin(), all.end());
  std::vector<double> ra = RanksOver(a, items), rb = RanksOver(b, items);
  out.spearman = Pearson(ra, rb);  // Spearman = Pearson on ranks (average ranks for ties)
  out.kendall = KendallTauB(ra, rb);
  return out;
}

DistanceStats Stats(const std::vector<Ranked>& list) {
  DistanceStats s;
  if (list.empty()) return s;
  std::vector<double> d;
  for (const Ranked& r : list) d.push_back(r.distance);
  std::sort(d.begin(), d.end());
  s.min = d.front();
  s.max = d.back();
  for (double x : d) s.mean += x;
  s.mean /= d.size();
  s.median = d.size() % 2 ? d[d.size() / 2] : (d[d.size() / 2 - 1] + d[d.size() / 2]) / 2;
  return s;
}

double PrecisionAtK(const std::vector<int64_t>& ranked, const std::vector<int64_t>& relevant,
                    size_t k) {
  return k ? double(Hits(ranked, relevant, k)) / k : 0.0;
}

double RecallAtK(const std::vector<int64_t>& ranked, const std::vector<int64_t>& relevant,
                 size_t k) {
  return relevant.empty() ? 0.0 : double(Hits(ranked, relevant, k)) / relevant.size();
}

double AveragePrecisionAtK(const std::vector<int64_t>& ranked, const std::vector<int64_t>& relevant,
                           size_t k) {
  std::set<int64_t> wanted(relevant.begin(), relevant.end());
  double sum = 0;
  size_t hits = 0;
  for (size_t i = 0; i < ranked.size() && i < k; ++i) {
    if (wanted.count(ranked[i])) sum += double(++hits) / double(i + 1);
  }
  size_t denominator = std::min(k, relevant.size());
  return denominator ? sum / denominator : 0.0;
}

}  // namespace imgsearch::pipeline
