#include "pipeline/tune.h"

#include <algorithm>
#include <iterator>
#include <set>

#include "index/metric.h"
#include "pipeline/eval.h"

namespace imgsearch::pipeline {
namespace {

constexpr double kK0 = 60;  // as FuseRrf's default, for the equal-weight RRF reported beside
// How many labelled images measure each model's distance scale: their pairs (about 45,000)
// settle the median and spread to within a few percent.
constexpr size_t kScaleSample = 300;
// The values coordinate ascent tries for each weight (their scale does not matter). None is
// 0: a model weak on the classes tuned on can be the best on others (phash on Caltech's
// faces and airplanes), and a small weight still lets its hits count where they stand out.
constexpr double kLevels[] = {0.05, 0.1, 0.25, 0.5, 1, 2, 4};
// The re-rankings tried (rerank.h): αQE at α = 3 (Radenović et al.'s choice) over a range
// of N, and average QE (α = 0) at small N. N reaches 20: over the augmented vectors of DBA
// the largest N tried (10) was the one chosen on most splits of doc/fusion.md.
constexpr const char* kRerankCandidates[] = {"qe:1,alpha=3",  "qe:2,alpha=3",  "qe:3,alpha=3",
                                             "qe:5,alpha=3",  "qe:10,alpha=3", "qe:15,alpha=3",
                                             "qe:20,alpha=3", "qe:2,alpha=0",  "qe:5,alpha=0"};

// One labelled query, ready to be fused under any weights.
struct QueryCase {
  std::vector<int64_t> candidates;  // ids found by any model
  std::vector<double> score;        // candidates x models: standard score, 0 when absent
  std::vector<double> rrf;          // candidates x models: 1 / (60 + rank), 0 when absent
  std::vector<uint8_t> found;       // candidates x models: in that model's list
  std::vector<uint8_t> relevant;    // per candidate: of the query's class
  size_t relevant_total = 0;        // images of the class besides the query
  int fold = 0;
  int label = 0;  // the query's class, numbered
};

// What a set of queries scores under a weight vector: over the queries (as eval reports
// mAP) and per class.
struct Score {
  double sum = 0;
  size_t count = 0;
  std::map<int, std::pair<double, size_t>> classes;  // label -> (sum, count)
  void Add(const QueryCase& q, double ap) {
    sum += ap, ++count;
    auto& c = classes[q.label];
    c.first += ap, ++c.second;
  }
  void Add(const Score& other) {
    sum += other.sum, count += other.count;
    for (const auto& [label, c] : other.classes) {
      classes[label].first += c.first, classes[label].second += c.second;
    }
  }
  double mean() const { return count ? sum / count : 0; }
  // Every class counts once: what a class not seen yet can expect. Tuning maximises this,
  // so that a few large classes (Caltech's 800 airplanes) do not choose the weights alone.
  double class_mean() const {
    double total = 0;
    for (const auto& [label, c] : classes) total += c.first / c.second;
    return classes.empty() ? 0 : total / classes.size();
  }
};

// Which of a case's tables the fusion sums: the tuned fusion's standard scores, or the
// reciprocal ranks of RRF (reported beside it).
using Table = std::vector<double> QueryCase::*;

double AveragePrecision(const QueryCase& q, const std::vector<double>& w, size_t k, Table table) {
  const size_t models = w.size();
  std::vector<std::pair<double, int64_t>> scored;  // (score, candidate index)
  for (size_t c = 0; c < q.candidates.size(); ++c) {
    double s = 0;
    bool counted = false;  // as FuseStandardized: only lists of weight > 0 bring ids
    for (size_t m = 0; m < models; ++m) {
      if (w[m] <= 0 || !q.found[c * models + m]) continue;
      s += w[m] * (q.*table)[c * models + m];
      counted = true;
    }
    if (counted) scored.emplace_back(s, static_cast<int64_t>(c));
  }
  // As FuseStandardized ranks: larger score first, then smaller id.
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
              Selected in, Table table = &QueryCase::score) {
  Score score;
  for (const QueryCase& q : cases) {
    if (in(q.fold)) score.Add(q, AveragePrecision(q, w, k, table));
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

// Coordinate ascent over kLevels of the per-class mean, from equal weights and from the
// best single model (the others at the lowest level); the better end point wins.
template <typename Selected>
std::vector<double> Optimize(const std::vector<QueryCase>& cases, size_t models, size_t k,
                             Selected in) {
  std::vector<double> leaning(models, kLevels[0]);
  leaning[BestModel(cases, models, k, in)] = 1;
  std::vector<double> best_w;
  double best = -1;
  for (std::vector<double> w : {std::vector<double>(models, 1.0), leaning}) {
    double score = ScoreOf(cases, w, k, in).class_mean();
    for (int round = 0; round < 3; ++round) {
      bool improved = false;
      for (size_t m = 0; m < models; ++m) {
        for (double level : kLevels) {
          std::vector<double> tried = w;
          tried[m] = level;
          if (tried == w) continue;
          double s = ScoreOf(cases, tried, k, in).class_mean();
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

// A labelled query's case from the lists of one search (each model's whole list).
QueryCase CaseOf(const SearchResults& results, const std::vector<index::Metric>& metrics,
                 const std::vector<DistanceScale>& scales, const std::set<int64_t>& same, int fold,
                 int label) {
  const size_t models = metrics.size();
  QueryCase q;
  q.relevant_total = same.size() - 1;
  q.fold = fold;
  q.label = label;
  std::map<int64_t, size_t> index;
  for (const ModelResults& model : results.models) {
    for (const Hit& hit : model.hits) {
      if (index.emplace(hit.id, q.candidates.size()).second) q.candidates.push_back(hit.id);
    }
  }
  const size_t cells = q.candidates.size() * models;
  q.score.assign(cells, 0), q.rrf.assign(cells, 0), q.found.assign(cells, 0);
  for (size_t m = 0; m < results.models.size(); ++m) {
    const auto& hits = results.models[m].hits;
    for (size_t r = 0; r < hits.size(); ++r) {
      size_t cell = index[hits[r].id] * models + m;
      // Hits report IP and COSINE as similarities; the scales are of distances.
      float distance = index::ReportedDistance(metrics[m], hits[r].distance);
      q.score[cell] = scales[m].StandardScore(distance);
      q.rrf[cell] = 1.0 / (kK0 + double(r + 1));
      q.found[cell] = 1;
    }
  }
  for (int64_t candidate : q.candidates) q.relevant.push_back(same.count(candidate) ? 1 : 0);
  return q;
}

// Each model's ranked list of every query, deep enough for fusion: one set of cases per
// entry of `reranks`. Without re-ranking ("off"), the lists of the plain search; with one,
// those the re-ranked fused search (under `fusion`'s weights) ends with. The models'
// first search of a query is made once for every entry.
Result<std::vector<std::vector<QueryCase>>> BuildCases(
    std::vector<BoundModel>& models, const Collection& images, const TunedFusion& fusion,
    const std::vector<Rerank>& reranks, const std::map<int64_t, std::string>& labels,
    const std::vector<int64_t>& queries, const std::map<std::string, int>& fold_of, size_t k) {
  std::map<std::string, std::set<int64_t>> members;
  for (const auto& [id, label] : labels) members[label].insert(id);
  std::vector<index::Metric> metrics;
  for (const BoundModel& m : models) {
    IMGSEARCH_ASSIGN_OR_RETURN(index::Metric metric,
                               index::ParseMetric(m.collection->index().metric_type));
    metrics.push_back(metric);
  }
  // Each model's whole list, as deep as fusion looks at search time for K. The fusion
  // (whose top N leads the expansions) matters only when re-ranking.
  SearchOptions search;
  search.k = static_cast<int>(k);
  search.fuse = "rrf";
  search.exclude_self = true;
  std::vector<std::string> texts;
  for (const Rerank& rerank : reranks) {
    texts.push_back(rerank.ToString());
    if (rerank.on()) search.fuse = "tuned";
  }
  std::vector<std::vector<QueryCase>> cases(reranks.size());
  for (int64_t id : queries) {
    Query query;
    query.id = id;
    IMGSEARCH_ASSIGN_OR_RETURN(
        std::vector<SearchResults> results,
        SearchModelsReranked(models, images, query, search, texts, &fusion, true));
    const std::set<int64_t>& same = members.at(labels.at(id));
    const int label = static_cast<int>(std::distance(members.begin(), members.find(labels.at(id))));
    for (size_t r = 0; r < reranks.size(); ++r) {
      cases[r].push_back(
          CaseOf(results[r], metrics, fusion.scales, same, fold_of.at(labels.at(id)), label));
    }
  }
  return cases;
}

// Cross-validation over the folds: tuned on all but one, scored on that one. Returns each
// fold's weights (tuned without it).
std::vector<std::vector<double>> EstimateHeldOut(const std::vector<QueryCase>& cases, size_t models,
                                                 size_t k, int folds, TuneReport* report) {
  Score tuned, single, rrf;
  std::vector<std::vector<double>> fold_weights;
  for (int f = 0; f < folds; ++f) {
    auto train = [f](int fold) { return fold != f; };
    auto test = [f](int fold) { return fold == f; };
    std::vector<double> w = fold_weights.emplace_back(Optimize(cases, models, k, train));
    Score t = ScoreOf(cases, w, k, test);
    Score s = ScoreOf(cases, OneHot(models, BestModel(cases, models, k, train)), k, test);
    Score r = ScoreOf(cases, std::vector<double>(models, 1.0), k, test, &QueryCase::rrf);
    tuned.Add(t), single.Add(s), rrf.Add(r);
  }
  report->held_out_map = tuned.mean();
  report->held_out_best_model_map = single.mean();
  report->held_out_rrf_map = rrf.mean();
  return fold_weights;
}

// The re-ranking, chosen as the weights are: for each fold, the candidate whose cases score
// best on the other folds under the weights tuned on them, scored on that fold. The
// candidate best on every class is kept when the held-out estimate beats the fusion
// without re-ranking.
void ChooseRerank(const std::vector<std::vector<QueryCase>>& candidate_cases,
                  const std::vector<Rerank>& candidates,
                  const std::vector<std::vector<double>>& fold_weights,
                  const std::vector<double>& weights, size_t k, Tuned* tuned) {
  TuneReport& report = tuned->report;
  Score held_out;
  for (size_t f = 0; f < fold_weights.size(); ++f) {
    auto train = [f](int fold) { return fold != int(f); };
    auto test = [f](int fold) { return fold == int(f); };
    size_t best = 0;
    double best_score = -1;
    for (size_t c = 0; c < candidates.size(); ++c) {
      double score = ScoreOf(candidate_cases[c], fold_weights[f], k, train).class_mean();
      if (score > best_score + 1e-12) best = c, best_score = score;
    }
    held_out.Add(ScoreOf(candidate_cases[best], fold_weights[f], k, test));
  }
  auto all = [](int) { return true; };
  size_t best = 0;
  double best_score = -1;
  for (size_t c = 0; c < candidates.size(); ++c) {
    double score = ScoreOf(candidate_cases[c], weights, k, all).class_mean();
    if (score > best_score + 1e-12) best = c, best_score = score;
  }
  report.rerank_tried = candidates[best].ToString();
  report.rerank_map = ScoreOf(candidate_cases[best], weights, k, all).mean();
  report.held_out_rerank_map = held_out.mean();
  if (report.held_out_rerank_map > report.held_out_map) {
    tuned->fusion.rerank = candidates[best];
    report.rerank = report.rerank_tried;
  }
}

}  // namespace

Result<Tuned> Tune(std::vector<BoundModel>& models, const Collection& images,
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
  Tuned tuned;
  const std::vector<int64_t> sample = SampleQueries(labels, kScaleSample);
  for (const BoundModel& m : models) {
    IMGSEARCH_ASSIGN_OR_RETURN(DistanceScale scale, MeasureDistanceScale(m, sample));
    tuned.fusion.scales.push_back(scale);
  }
  IMGSEARCH_ASSIGN_OR_RETURN(
      std::vector<std::vector<QueryCase>> plain,
      BuildCases(models, images, tuned.fusion, {Rerank{}}, labels, queries, fold_of, k));
  const std::vector<QueryCase>& cases = plain[0];
  auto all = [](int) { return true; };
  TuneReport& report = tuned.report;
  report.queries = cases.size();
  report.classes = classes.size();
  std::vector<double> w = Optimize(cases, models.size(), k, all);
  tuned.fusion.weights = w;
  for (size_t m = 0; m < models.size(); ++m) report.weights[models[m].source.name] = w[m];
  report.map = ScoreOf(cases, w, k, all).mean();
  size_t best = BestModel(cases, models.size(), k, all);
  report.best_model = models[best].source.name;
  report.best_model_map = ScoreOf(cases, OneHot(models.size(), best), k, all).mean();
  report.rrf_map =
      ScoreOf(cases, std::vector<double>(models.size(), 1.0), k, all, &QueryCase::rrf).mean();
  std::vector<std::vector<double>> fold_weights =
      EstimateHeldOut(cases, models.size(), k, folds, &report);
  if (!options.rerank) return tuned;
  // Every candidate re-ranks the fusion just tuned (its top N leads the expansion).
  std::vector<Rerank> candidates;
  for (const char* text : kRerankCandidates) {
    IMGSEARCH_ASSIGN_OR_RETURN(candidates.emplace_back(), ParseRerank(text));
  }
  IMGSEARCH_ASSIGN_OR_RETURN(
      std::vector<std::vector<QueryCase>> candidate_cases,
      BuildCases(models, images, tuned.fusion, candidates, labels, queries, fold_of, k));
  ChooseRerank(candidate_cases, candidates, fold_weights, w, k, &tuned);
  return tuned;
}

}  // namespace imgsearch::pipeline
