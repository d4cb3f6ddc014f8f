#include "pipeline/rerank.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace imgsearch::pipeline {
namespace {

void Normalize(std::vector<float>* v) {
  double norm = 0;
  for (float x : *v) norm += double(x) * x;
  if (!(norm > 0)) return;
  const double inverse = 1.0 / std::sqrt(norm);
  for (float& x : *v) x = static_cast<float>(x * inverse);
}

template <typename Number>
bool ParseNumber(std::string_view text, Number* out) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return !text.empty() && error == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::string Rerank::ToString() const {
  if (!on()) return "off";
  char alpha_text[32];
  std::snprintf(alpha_text, sizeof alpha_text, "%g", alpha);
  return "qe:" + std::to_string(qe) + ",alpha=" + alpha_text;
}

Result<Rerank> ParseRerank(std::string_view text) {
  auto invalid = [&text](const std::string& why) {
    return Status::InvalidArgument("rerank \"" + std::string(text) + "\": " + why +
                                   " (expected off or qe[:N][,alpha=A])");
  };
  if (text == "off" || text == "none") return Rerank{};
  if (text.substr(0, 2) != "qe") return invalid("unknown method");
  Rerank rerank{kDefaultQe, kDefaultAlpha};
  std::string_view rest = text.substr(2);
  size_t comma = rest.find(',');
  std::string_view count = rest.substr(0, comma);
  if (!count.empty()) {
    if (count[0] != ':' || !ParseNumber(count.substr(1), &rerank.qe))
      return invalid("N must be a whole number");
    if (rerank.qe < 1 || rerank.qe > kMaxQe) return invalid("N must be 1 to 100");
  }
  if (comma != std::string_view::npos) {
    std::string_view alpha = rest.substr(comma + 1);
    if (alpha.substr(0, 6) != "alpha=" || !ParseNumber(alpha.substr(6), &rerank.alpha))
      return invalid("expected alpha=A after the comma");
    if (!(rerank.alpha >= 0 && rerank.alpha <= 20)) return invalid("alpha must be 0 to 20");
  }
  return rerank;
}

double SimilarityOf(index::Metric metric, float internal_distance) {
  if (metric == index::Metric::kL2) return 1.0 - internal_distance / 2.0;
  return -internal_distance;  // IP and COSINE: negated similarities
}

std::vector<float> ExpandQuery(index::Metric metric, const std::vector<float>& query,
                               const std::vector<std::vector<float>>& neighbours, double alpha) {
  std::vector<float> q = query;
  if (metric == index::Metric::kCosine) Normalize(&q);
  std::vector<double> sum(q.begin(), q.end());
  for (std::vector<float> x : neighbours) {
    if (x.size() != q.size()) continue;
    if (metric == index::Metric::kCosine) Normalize(&x);
    double similarity = SimilarityOf(metric, index::Distance(metric, q.data(), x.data(), q.size()));
    double weight = alpha == 0 ? 1.0 : std::pow(std::max(0.0, similarity), alpha);
    for (size_t i = 0; i < x.size(); ++i) sum[i] += weight * x[i];
  }
  double norm = 0, query_norm = 0;
  for (double x : sum) norm += x * x;
  for (float x : q) query_norm += double(x) * x;
  if (!(norm > 0) || !(query_norm > 0)) return query;
  // At the query's length: unit for the library's models; for L2 over vectors of another
  // length, the length decides the ranking.
  const double scale = std::sqrt(query_norm / norm);
  std::vector<float> expanded;
  for (double x : sum) expanded.push_back(static_cast<float>(x * scale));
  return expanded;
}

}  // namespace imgsearch::pipeline
