#include "pipeline/eval.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "index/flat_index.h"
#include "pipeline/agreement.h"
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
      std::string stored = schema.binary()
                               ? std::string(r.binary_vector.begin(), r.binary_vector.end())
                               : std::string(reinterpret_cast<const char*>(r.vector.data()),
                                             r.vector.size() * sizeof(float));
      std::string indexed = store::IndexedForm(metric, stored);
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

void Accumulate(EvalScores* s, const std::vector<int64_t>& ranked,
                const std::vector<int64_t>& relevant, size_t k) {
  s->map += AveragePrecisionAtK(ranked, relevant, k);
  s->precision += PrecisionAtK(ranked, relevant, k);
  s->recall += RecallAtK(ranked, relevant, k);
}

}  // namespace

Result<EvalReport> Evaluate(std::vector<BoundModel>& models, const Collection& images,
                            const EvalOptions& options,
                            const std::optional<std::vector<double>>& tuned) {
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
  std::vector<double> index_hits(models.size(), 0);
  SearchOptions search;
  search.k = options.k;
  search.exclude_self = true;
  if (options.fuse && models.size() > 1) search.fuse = "rrf";
  for (int64_t id : queries) {
    std::vector<int64_t> relevant;
    for (int64_t other : members[labels[id]]) {
      if (other != id) relevant.push_back(other);
    }
    Query query;
    query.id = id;
    IMGSEARCH_ASSIGN_OR_RETURN(SearchResults results, SearchModels(models, images, query, search));
    for (size_t m = 0; m < models.size(); ++m) {
      std::vector<int64_t> ranked;
      for (const Hit& h : results.models[m].hits) ranked.push_back(h.id);
      EvalScores& s = report.models[models[m].source.name];
      Accumulate(&s, ranked, relevant, options.k);
      s.latency_ms += results.models[m].seconds * 1000;
      std::vector<int64_t> truth = exact[m].Nearest(id, options.k);
      std::set<int64_t> want(truth.begin(), truth.end());
      for (int64_t r : ranked) index_hits[m] += want.count(r);
    }
    if (!results.fused.empty()) {
      std::vector<int64_t> ranked;
      for (const auto& f : results.fused) ranked.push_back(f.id);
      Accumulate(&report.models["fused"], ranked, relevant, options.k);
    }
    if (!search.fuse.empty() && tuned) {
      SearchOptions with_weights = search;
      with_weights.fuse = "tuned";
      with_weights.weights = *tuned;
      IMGSEARCH_ASSIGN_OR_RETURN(SearchResults fused,
                                 SearchModels(models, images, query, with_weights));
      std::vector<int64_t> ranked;
      for (const auto& f : fused.fused) ranked.push_back(f.id);
      Accumulate(&report.models["tuned"], ranked, relevant, options.k);
    }
  }
  double n = static_cast<double>(queries.size());
  for (auto& [name, s] : report.models) {
    s.map /= n, s.precision /= n, s.recall /= n, s.latency_ms /= n;
  }
  for (size_t m = 0; m < models.size(); ++m) {
    report.models[models[m].source.name].index_recall = index_hits[m] / (n * options.k);
  }
  double latency = 0;
  for (const auto& m : models) latency += report.models[m.source.name].latency_ms;
  for (const char* fused : {"fused", "tuned"}) {
    if (report.models.count(fused)) report.models[fused].latency_ms = latency;
  }
  return report;
}

}  // namespace imgsearch::pipeline
