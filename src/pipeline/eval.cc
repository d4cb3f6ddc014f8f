#include "pipeline/eval.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "index/flat_index.h"
#include "pipeline/agreement.h"
#include "pipeline/images.h"
#include "store/vector_form.h"

namespace imgsearch::pipeline {
namespace {

namespace fs = std::filesystem;

}  // namespace

Result<std::map<int64_t, std::string>> Labels(const Collection& collection, const std::string& dir,
                                              const std::vector<std::string>& classes) {
  std::set<std::string> wanted(classes.begin(), classes.end());
  std::string root = fs::absolute(dir).lexically_normal().string();
  if (!root.empty() && root.back() != '/') root += '/';
  IMGSEARCH_ASSIGN_OR_RETURN(std::vector<Row> rows, AllRows(collection, {"path"}));
  std::map<int64_t, std::string> labels;
  for (const Row& r : rows) {
    std::string path = r.fields.at("path").get<std::string>();
    if (path.rfind(root, 0) != 0) continue;
    std::string rest = path.substr(root.size());
    size_t slash = rest.find('/');
    if (slash == std::string::npos) continue;  // not inside a class folder
    std::string label = rest.substr(0, slash);
    if (wanted.empty() || wanted.count(label)) labels[r.id] = label;
  }
  if (labels.empty()) {
    return Status::InvalidArgument(dir + ": no indexed images in " +
                                   (wanted.empty() ? "class folders" : "the classes named") +
                                   " (index DIR first)");
  }
  return labels;
}

std::vector<int64_t> SampleQueries(const std::map<int64_t, std::string>& labels, size_t max) {
  std::vector<int64_t> queries;
  for (const auto& entry : labels) queries.push_back(entry.first);
  if (max == 0 || queries.size() <= max) return queries;
  std::vector<int64_t> sample;
  for (size_t i = 0; i < max; ++i) sample.push_back(queries[i * queries.size() / max]);
  return sample;
}

namespace {

// Exact search over every vector of a collection, for the index's recall.
class ExactSearcher {
 public:
  static Result<ExactSearcher> Build(const Collection& collection) {
    const CollectionSchema& schema = collection.schema();
    IMGSEARCH_ASSIGN_OR_RETURN(index::Metric metric,
                               index::ParseMetric(collection.index().metric_type));
    ExactSearcher s(metric, schema.dimension);
    IMGSEARCH_ASSIGN_OR_RETURN(std::vector<Row> rows, AllRows(collection, {schema.vector_field}));
    for (const Row& r : rows) {
      std::string indexed = store::IndexedForm(metric, store::StoredVector(schema, r));
      IMGSEARCH_RETURN_IF_ERROR(s.flat_->Add(1, &r.id, indexed.data()));
      s.vectors_[r.id] = indexed;
    }
    return s;
  }
  std::vector<int64_t> Nearest(int64_t query_id, size_t k) const {
    std::vector<int64_t> ids;
    for (const auto& n : flat_->Scan(vectors_.at(query_id).data(), k + 1, {}, {})) {
      if (n.label != query_id && ids.size() < k) ids.push_back(n.label);
    }
    return ids;
  }

 private:
  ExactSearcher(index::Metric metric, int dim)
      : flat_(std::make_shared<index::FlatIndex>(metric, dim)) {}
  std::shared_ptr<index::FlatIndex> flat_;
  std::map<int64_t, std::string> vectors_;
};

constexpr size_t kDisagreementsShown = 8;
constexpr size_t kHitsShown = 5;

// Precision and recall after each rank 1..k, added to the curve's sums in one pass.
void AddCurve(EvalCurve* curve, const std::vector<int64_t>& ranked,
              const std::vector<int64_t>& relevant, size_t k) {
  if (curve->precision.empty()) curve->precision.assign(k, 0), curve->recall.assign(k, 0);
  std::set<int64_t> wanted(relevant.begin(), relevant.end());
  size_t hits = 0;
  for (size_t r = 0; r < k; ++r) {
    if (r < ranked.size() && wanted.count(ranked[r])) ++hits;
    curve->precision[r] += double(hits) / double(r + 1);
    curve->recall[r] += wanted.empty() ? 0 : double(hits) / double(wanted.size());
  }
}

// One ranking's scores, added to the sums of `name` (a model, "fused" or "tuned").
void Accumulate(EvalReport* report, const std::string& name, const std::string& label,
                const std::vector<int64_t>& ranked, const std::vector<int64_t>& relevant) {
  size_t k = size_t(report->k);
  EvalScores& s = report->models[name];
  double ap = AveragePrecisionAtK(ranked, relevant, k);
  s.map += ap;
  s.precision += PrecisionAtK(ranked, relevant, k);
  s.recall += RecallAtK(ranked, relevant, k);
  report->class_map[name][label] += ap;
  AddCurve(&report->curves[name], ranked, relevant, k);
}

// How far the models' answers to one query agree: adds each pair's Jaccard@K to the
// report's sums and returns their mean (1 with a single model).
double AddAgreement(EvalReport* report, const std::vector<std::string>& names,
                    const std::vector<std::vector<int64_t>>& ranked) {
  double sum = 0;
  size_t pairs = 0;
  for (size_t a = 0; a < names.size(); ++a) {
    report->agreement[names[a]][names[a]] += 1;
    for (size_t b = a + 1; b < names.size(); ++b) {
      double jaccard = Agreement(ranked[a], ranked[b]).jaccard;
      report->agreement[names[a]][names[b]] += jaccard;
      report->agreement[names[b]][names[a]] += jaccard;
      sum += jaccard;
      ++pairs;
    }
  }
  return pairs ? sum / double(pairs) : 1;
}

EvalDisagreement View(int64_t id, const std::string& label, double agreement,
                      const SearchResults& results, const std::map<int64_t, std::string>& labels) {
  EvalDisagreement view;
  view.id = id;
  view.label = label;
  view.agreement = agreement;
  for (const ModelResults& m : results.models) {
    auto& hits = view.hits[m.model];
    for (size_t i = 0; i < m.hits.size() && i < kHitsShown; ++i) {
      auto other = labels.find(m.hits[i].id);
      hits.push_back({m.hits[i].row.fields.value("path", std::string()),
                      other != labels.end() && other->second == label});
    }
  }
  return view;
}

// Keeps the `kDisagreementsShown` views of least agreement, least first.
void KeepLeastAgreeing(std::vector<EvalDisagreement>* views, bool final) {
  if (!final && views->size() < 4 * kDisagreementsShown) return;
  std::stable_sort(views->begin(), views->end(),
                   [](const auto& a, const auto& b) { return a.agreement < b.agreement; });
  if (views->size() > kDisagreementsShown) views->resize(kDisagreementsShown);
}

// The sums become means: over the queries, and over each class's queries.
void Average(EvalReport* report, const std::map<std::string, size_t>& queries_per_class) {
  double n = static_cast<double>(report->queries);
  for (auto& [name, s] : report->models) {
    s.map /= n, s.precision /= n, s.recall /= n, s.latency_ms /= n;
  }
  for (auto& [name, curve] : report->curves) {
    for (double& p : curve.precision) p /= n;
    for (double& r : curve.recall) r /= n;
  }
  for (auto& [name, per_class] : report->class_map) {
    for (auto& [label, map] : per_class) map /= double(queries_per_class.at(label));
  }
  for (auto& [a, row] : report->agreement) {
    for (auto& [b, value] : row) value /= n;
  }
}

}  // namespace

namespace {

// The ranked ids of a search's fused list, or of its model `m` (m >= 0).
std::vector<int64_t> RankedIds(const SearchResults& results, int m = -1) {
  std::vector<int64_t> ranked;
  if (m < 0) {
    for (const auto& f : results.fused) ranked.push_back(f.id);
  } else {
    for (const Hit& h : results.models[m].hits) ranked.push_back(h.id);
  }
  return ranked;
}

double TotalSeconds(const SearchResults& results) {
  double seconds = 0;
  for (const ModelResults& m : results.models) seconds += m.seconds;
  return seconds;
}

// The query searched again with each model re-ranked alone, then fused re-ranked: the
// scores under "<name>+qe", with the search time (of every model, for the fusion).
Status AccumulateReranked(std::vector<BoundModel>& models, const Collection& images,
                          const Query& query, const SearchOptions& plain, const TunedFusion* tuned,
                          const Rerank& rerank, const std::string& label,
                          const std::vector<int64_t>& relevant, EvalReport* report) {
  SearchOptions alone = plain;
  alone.fuse.clear();
  alone.rerank = rerank.ToString();
  IMGSEARCH_ASSIGN_OR_RETURN(SearchResults results, SearchModels(models, images, query, alone));
  for (size_t m = 0; m < models.size(); ++m) {
    const std::string name = models[m].source.name + "+qe";
    Accumulate(report, name, label, RankedIds(results, int(m)), relevant);
    report->models[name].latency_ms += results.models[m].seconds * 1000;
  }
  if (plain.fuse.empty()) return Status::Ok();
  SearchOptions fused = alone;
  fused.fuse = tuned ? "tuned" : plain.fuse;
  IMGSEARCH_ASSIGN_OR_RETURN(results, SearchModels(models, images, query, fused, tuned));
  const std::string name = fused.fuse == "tuned" ? "tuned+qe" : "fused+qe";
  Accumulate(report, name, label, RankedIds(results), relevant);
  report->models[name].latency_ms += TotalSeconds(results) * 1000;
  return Status::Ok();
}

}  // namespace

Result<EvalReport> Evaluate(std::vector<BoundModel>& models, const Collection& images,
                            const EvalOptions& options, const TunedFusion* tuned,
                            const Rerank& rerank) {
  IMGSEARCH_ASSIGN_OR_RETURN(auto labels, Labels(images, options.dir, options.classes));
  std::map<std::string, std::vector<int64_t>> members;
  for (const auto& [id, label] : labels) members[label].push_back(id);
  std::vector<int64_t> queries = SampleQueries(labels, options.max_queries);
  std::vector<ExactSearcher> exact;
  for (const auto& m : models) {
    IMGSEARCH_ASSIGN_OR_RETURN(ExactSearcher e, ExactSearcher::Build(*m.collection));
    exact.push_back(std::move(e));
  }
  EvalReport report;
  report.queries = queries.size();
  report.classes = members.size();
  report.k = options.k;
  std::vector<double> index_hits(models.size(), 0);
  std::vector<std::string> names;
  for (const auto& m : models) names.push_back(m.source.name);
  std::map<std::string, size_t> queries_per_class;
  SearchOptions search;
  search.k = options.k;
  search.exclude_self = true;
  if (options.fuse && models.size() > 1) search.fuse = "rrf";
  for (int64_t id : queries) {
    const std::string& label = labels[id];
    ++queries_per_class[label];
    std::vector<int64_t> relevant;
    for (int64_t other : members[label]) {
      if (other != id) relevant.push_back(other);
    }
    Query query;
    query.id = id;
    IMGSEARCH_ASSIGN_OR_RETURN(SearchResults results, SearchModels(models, images, query, search));
    std::vector<std::vector<int64_t>> ranked_by_model;
    for (size_t m = 0; m < models.size(); ++m) {
      std::vector<int64_t>& ranked = ranked_by_model.emplace_back();
      for (const Hit& h : results.models[m].hits) ranked.push_back(h.id);
      Accumulate(&report, names[m], label, ranked, relevant);
      report.models[names[m]].latency_ms += results.models[m].seconds * 1000;
      std::vector<int64_t> truth = exact[m].Nearest(id, options.k);
      std::set<int64_t> want(truth.begin(), truth.end());
      for (int64_t r : ranked) index_hits[m] += want.count(r);
    }
    double agreement = AddAgreement(&report, names, ranked_by_model);
    if (models.size() > 1) {
      report.disagreements.push_back(View(id, label, agreement, results, labels));
      KeepLeastAgreeing(&report.disagreements, /*final=*/false);
    }
    if (!results.fused.empty()) {
      std::vector<int64_t> ranked;
      for (const auto& f : results.fused) ranked.push_back(f.id);
      Accumulate(&report, "fused", label, ranked, relevant);
    }
    if (!search.fuse.empty() && tuned) {
      SearchOptions with_weights = search;
      with_weights.fuse = "tuned";
      IMGSEARCH_ASSIGN_OR_RETURN(SearchResults fused,
                                 SearchModels(models, images, query, with_weights, tuned));
      std::vector<int64_t> ranked;
      for (const auto& f : fused.fused) ranked.push_back(f.id);
      Accumulate(&report, "tuned", label, ranked, relevant);
    }
    if (rerank.on()) {
      IMGSEARCH_RETURN_IF_ERROR(AccumulateReranked(models, images, query, search, tuned, rerank,
                                                   label, relevant, &report));
    }
  }
  Average(&report, queries_per_class);
  double n = static_cast<double>(queries.size());
  for (size_t m = 0; m < models.size(); ++m) {
    // Under DBA the index holds the augmented vectors: no exact search of the same to check.
    if (!models[m].augmented)
      report.models[names[m]].index_recall = index_hits[m] / (n * options.k);
  }
  double latency = 0;
  for (const auto& name : names) latency += report.models[name].latency_ms;
  for (const char* fused : {"fused", "tuned"}) {
    if (report.models.count(fused)) report.models[fused].latency_ms = latency;
  }
  KeepLeastAgreeing(&report.disagreements, /*final=*/true);
  std::vector<int64_t> shown;
  for (const auto& view : report.disagreements) shown.push_back(view.id);
  IMGSEARCH_ASSIGN_OR_RETURN(auto infos, ImagesById(images, shown));
  for (auto& view : report.disagreements) {
    if (auto info = infos.find(view.id); info != infos.end()) view.path = info->second.path;
  }
  return report;
}

}  // namespace imgsearch::pipeline
