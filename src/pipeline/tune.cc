#include "pipeline/tune.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "base/json.h"
#include "pipeline/eval.h"

namespace imgsearch::pipeline {
namespace {

constexpr double kK0 = 60;  // as FuseWeightedRrf's default
// The values coordinate ascent tries for each weight (the weights' scale does not matter).
constexpr double kLevels[] = {0, 0.25, 0.5, 1, 2, 4};

// One labelled query, ready to be fused under any weights.
struct QueryCase {
  std::vector<int64_t> candidates;  // ids found by any model
  std::vector<double> rrf;          // candidates x models: 1 / (k0 + rank), 0 when absent
  std::vector<uint8_t> relevant;    // per candidate: of the query's class
  size_t relevant_total = 0;        // images of the class besides the query
  int fold = 0;
};

// What a set of queries scores under a weight vector, and how many there were.
struct Score {
  double sum = 0;
  size_t count = 0;
  double mean() const { return count ? sum / count : 0; }
};

double AveragePrecision(const QueryCase& q, const std::vector<double>& w, size_t k) {
  const size_t models = w.size();
  std::vector<std::pair<double, int64_t>> scored;  // (score, candidate index)
  for (size_t c = 0; c < q.candidates.size(); ++c) {
    double s = 0;
    for (size_t m = 0; m < models; ++m) s += w[m] * q.rrf[c * models + m];
    if (s > 0) scored.emplace_back(s, static_cast<int64_t>(c));
  }
  // As FuseWeightedRrf ranks: larger score first, then smaller id.
  auto better = [&q](const auto& a, const auto& b) {
    return a.first > b.first ||
           (a.first == b.first && q.candidates[a.second] < q.candidates[b.second]);
  };
  size_t top = std::min(k, scored.size());
  std::partial_sort(scored.begin(), scored.begin() + top, scored.end(), better);
  double sum = 0;
  size_t hits = 0;
  for (size_t i = 0; i < top; ++i) {
    if (q.relevant[scored[i].second]) sum += double(++hits) / double(i + 1);
  }
  size_t denominator = std::min(k, q.relevant_total);
  return denominator ? sum / denominator : 0.0;
}

// The queries of the folds `in` selects.
template <typename Selected>
Score ScoreOf(const std::vector<QueryCase>& cases, const std::vector<double>& w, size_t k,
              Selected in) {
  Score score;
  for (const QueryCase& q : cases) {
    if (!in(q.fold)) continue;
    score.sum += AveragePrecision(q, w, k);
    ++score.count;
  }
  return score;
}

std::vector<double> OneHot(size_t models, size_t m) {
  std::vector<double> w(models, 0);
  w[m] = 1;
  return w;
}

template <typename Selected>
size_t BestModel(const std::vector<QueryCase>& cases, size_t models, size_t k, Selected in) {
  size_t best = 0;
  double best_map = -1;
  for (size_t m = 0; m < models; ++m) {
    double map = ScoreOf(cases, OneHot(models, m), k, in).mean();
    if (map > best_map) best = m, best_map = map;
  }
  return best;
}

// Coordinate ascent over kLevels from equal weights and from the best single model; the
// better end point wins (the single model on a tie, being the simpler).
template <typename Selected>
std::vector<double> Optimize(const std::vector<QueryCase>& cases, size_t models, size_t k,
                             Selected in) {
  std::vector<double> best_w;
  double best = -1;
  for (std::vector<double> w :
       {OneHot(models, BestModel(cases, models, k, in)), std::vector<double>(models, 1.0)}) {
    double score = ScoreOf(cases, w, k, in).mean();
    for (int round = 0; round < 3; ++round) {
      bool improved = false;
      for (size_t m = 0; m < models; ++m) {
        for (double level : kLevels) {
          std::vector<double> tried = w;
          tried[m] = level;
          if (tried == w || *std::max_element(tried.begin(), tried.end()) == 0) continue;
          double s = ScoreOf(cases, tried, k, in).mean();
          if (s > score + 1e-12) w = tried, score = s, improved = true;
        }
      }
      if (!improved) break;
    }
    if (score > best + 1e-12) best_w = w, best = score;
  }
  double top = *std::max_element(best_w.begin(), best_w.end());
  for (double& x : best_w) x /= top;  // the strongest weight is 1
  return best_w;
}

// Each model's ranked list of every query, searched once, deep enough for fusion.
Result<std::vector<QueryCase>> BuildCases(std::vector<BoundModel>& models, const Collection& images,
                                          const std::map<int64_t, std::string>& labels,
                                          const std::vector<int64_t>& queries,
                                          const std::map<std::string, int>& fold_of, size_t k) {
  std::map<std::string, std::set<int64_t>> members;
  for (const auto& [id, label] : labels) members[label].insert(id);
  SearchOptions search;
  search.k = static_cast<int>(std::max<size_t>(k * 4, 50));  // as fusion at search time
  search.exclude_self = true;
  std::vector<QueryCase> cases;
  for (int64_t id : queries) {
    Query query;
    query.id = id;
    IMGSEARCH_ASSIGN_OR_RETURN(SearchResults results, SearchModels(models, images, query, search));
    const std::set<int64_t>& same = members.at(labels.at(id));
    QueryCase q;
    q.relevant_total = same.size() - 1;
    q.fold = fold_of.at(labels.at(id));
    std::map<int64_t, size_t> index;
    for (const ModelResults& model : results.models) {
      for (const Hit& hit : model.hits) {
        if (index.emplace(hit.id, q.candidates.size()).second) q.candidates.push_back(hit.id);
      }
    }
    q.rrf.assign(q.candidates.size() * models.size(), 0);
    for (size_t m = 0; m < results.models.size(); ++m) {
      const auto& hits = results.models[m].hits;
      for (size_t r = 0; r < hits.size(); ++r)
        q.rrf[index[hits[r].id] * models.size() + m] = 1.0 / (kK0 + double(r + 1));
    }
    for (int64_t candidate : q.candidates) q.relevant.push_back(same.count(candidate) ? 1 : 0);
    cases.push_back(std::move(q));
  }
  return cases;
}

// Cross-validation over the folds: tuned on all but one, scored on that one.
void EstimateHeldOut(const std::vector<QueryCase>& cases, size_t models, size_t k, int folds,
                     TuneReport* report) {
  Score tuned, single, rrf;
  for (int f = 0; f < folds; ++f) {
    auto train = [f](int fold) { return fold != f; };
    auto test = [f](int fold) { return fold == f; };
    std::vector<double> w = Optimize(cases, models, k, train);
    Score t = ScoreOf(cases, w, k, test);
    Score s = ScoreOf(cases, OneHot(models, BestModel(cases, models, k, train)), k, test);
    Score r = ScoreOf(cases, std::vector<double>(models, 1.0), k, test);
    tuned.sum += t.sum, tuned.count += t.count;
    single.sum += s.sum, single.count += s.count;
    rrf.sum += r.sum, rrf.count += r.count;
  }
  report->held_out_map = tuned.mean();
  report->held_out_best_model_map = single.mean();
  report->held_out_rrf_map = rrf.mean();
}

}  // namespace

Result<TuneReport> Tune(std::vector<BoundModel>& models, const Collection& images,
                        const TuneOptions& options) {
  if (models.size() < 2) return Status::InvalidArgument("tuning fusion needs two models or more");
  if (options.k < 1 || options.k > 1000) return Status::InvalidArgument("k must be 1 to 1000");
  IMGSEARCH_ASSIGN_OR_RETURN(auto labels, Labels(images, options.dir, options.classes));
  std::set<std::string> classes;
  for (const auto& entry : labels) classes.insert(entry.second);
  const int folds = std::min<int>(options.folds, static_cast<int>(classes.size()));
  if (folds < 2) {
    return Status::InvalidArgument("tuning needs at least two classes and two folds (found " +
                                   std::to_string(classes.size()) + " classes)");
  }
  std::map<std::string, int> fold_of;  // classes dealt to the folds in name order
  for (const std::string& c : classes) fold_of[c] = static_cast<int>(fold_of.size()) % folds;
  std::vector<int64_t> queries = SampleQueries(labels, options.max_queries);
  const size_t k = static_cast<size_t>(options.k);
  IMGSEARCH_ASSIGN_OR_RETURN(std::vector<QueryCase> cases,
                             BuildCases(models, images, labels, queries, fold_of, k));
  auto all = [](int) { return true; };
  TuneReport report;
  report.queries = cases.size();
  report.classes = classes.size();
  std::vector<double> w = Optimize(cases, models.size(), k, all);
  for (size_t m = 0; m < models.size(); ++m) report.weights[models[m].source.name] = w[m];
  report.map = ScoreOf(cases, w, k, all).mean();
  size_t best = BestModel(cases, models.size(), k, all);
  report.best_model = models[best].source.name;
  report.best_model_map = ScoreOf(cases, OneHot(models.size(), best), k, all).mean();
  report.rrf_map = ScoreOf(cases, std::vector<double>(models.size(), 1.0), k, all).mean();
  EstimateHeldOut(cases, models.size(), k, folds, &report);
  return report;
}

Result<std::optional<std::vector<double>>> StoredFusionWeights(
    const Database& db, const std::vector<BoundModel>& models) {
  IMGSEARCH_ASSIGN_OR_RETURN(std::optional<std::string> text, db.GetSetting(kFusionSetting));
  if (!text) return std::optional<std::vector<double>>();
  IMGSEARCH_ASSIGN_OR_RETURN(nlohmann::json stored, base::ParseJson(*text));
  const nlohmann::json weights =
      stored.is_object() ? stored.value("weights", nlohmann::json()) : nlohmann::json();
  if (!weights.is_object())
    return Status::Corruption("the library's fusion setting has no weights: run tune again");
  std::vector<double> w;
  for (const BoundModel& m : models) {
    auto it = weights.find(m.source.name);
    w.push_back(it != weights.end() && it->is_number() ? it->get<double>() : 0.0);
  }
  return std::optional<std::vector<double>>(std::move(w));
}

}  // namespace imgsearch::pipeline
