#include "pipeline/tuned_fusion.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/json.h"
#include "index/metric.h"
#include "store/vector_form.h"

namespace imgsearch::pipeline {
namespace {

double Median(std::vector<double> values) {
  auto middle = values.begin() + values.size() / 2;
  std::nth_element(values.begin(), middle, values.end());
  return *middle;
}

// The vectors of `ids` in the form the index compares (normalised for COSINE).
Result<std::vector<std::string>> IndexedVectors(const BoundModel& model, index::Metric metric,
                                                const std::vector<int64_t>& ids) {
  // Under DBA, the augmented vectors that search compares with.
  const Collection& searched = model.augmented ? *model.augmented : *model.collection;
  const CollectionSchema& schema = searched.schema();
  IMGSEARCH_ASSIGN_OR_RETURN(std::vector<Row> rows, searched.Get(ids, {schema.vector_field}));
  std::vector<std::string> vectors;
  for (const Row& r : rows) {
    std::string stored = store::StoredVector(schema, r);
    if (!stored.empty()) vectors.push_back(store::IndexedForm(metric, stored));
  }
  return vectors;
}

// A member of a stored object when it has the expected type, else `fallback` (the setting
// is outside bytes: a wrong type must not throw).
double NumberOr(const nlohmann::json& object, const char* name, double fallback) {
  auto it = object.find(name);
  return it != object.end() && it->is_number() ? it->get<double>() : fallback;
}

}  // namespace

Result<DistanceScale> MeasureDistanceScale(const BoundModel& model,
                                           const std::vector<int64_t>& sample) {
  IMGSEARCH_ASSIGN_OR_RETURN(index::Metric metric,
                             index::ParseMetric(model.collection->index().metric_type));
  IMGSEARCH_ASSIGN_OR_RETURN(std::vector<std::string> vectors,
                             IndexedVectors(model, metric, sample));
  if (vectors.size() < 2) {
    return Status::InvalidArgument("model \"" + model.source.name +
                                   "\": too few vectors to measure its distances");
  }
  const bool binary = index::IsBinaryMetric(metric);
  const size_t dim = binary ? vectors[0].size() : vectors[0].size() / sizeof(float);
  DistanceScale scale;
  scale.root = metric == index::Metric::kL2;  // squared, as Milvus reports L2
  std::vector<double> distances;
  for (size_t i = 0; i < vectors.size(); ++i) {
    for (size_t j = i + 1; j < vectors.size(); ++j) {
      float d = index::Distance(metric, vectors[i].data(), vectors[j].data(), dim);
      distances.push_back(scale.root ? std::sqrt(std::max(0.0f, d)) : double(d));
    }
  }
  scale.center = Median(distances);
  for (double& d : distances) d = std::abs(d - scale.center);
  // 1.4826 x the median absolute deviation estimates a standard deviation, unmoved by the
  // few pairs of near-duplicates; all pairs alike (a constant model) would divide by 0.
  double spread = 1.4826 * Median(distances);
  scale.spread = spread > 1e-12 ? spread : 1.0;
  return scale;
}

std::string FusionSetting(const std::vector<BoundModel>& models, const TunedFusion& fusion, int k) {
  nlohmann::json weights = nlohmann::json::object(), scales = nlohmann::json::object();
  for (size_t m = 0; m < models.size(); ++m) {
    const std::string& name = models[m].source.name;
    weights[name] = fusion.weights[m];
    const DistanceScale& s = fusion.scales[m];
    scales[name] = {{"center", s.center}, {"spread", s.spread}, {"root", s.root}};
  }
  nlohmann::json setting = {
      {"method", "standardized"}, {"k", k}, {"weights", weights}, {"scales", scales}};
  if (fusion.rerank.on()) setting["rerank"] = fusion.rerank.ToString();
  return setting.dump();
}

Result<std::optional<TunedFusion>> StoredFusion(const Database& db,
                                                const std::vector<BoundModel>& models) {
  IMGSEARCH_ASSIGN_OR_RETURN(std::optional<std::string> text, db.GetSetting(kFusionSetting));
  if (!text) return std::optional<TunedFusion>();
  IMGSEARCH_ASSIGN_OR_RETURN(nlohmann::json stored, base::ParseJson(*text));
  auto member = [&stored](const char* name) {
    return stored.is_object() ? stored.value(name, nlohmann::json()) : nlohmann::json();
  };
  const nlohmann::json weights = member("weights"), scales = member("scales");
  if (!weights.is_object())
    return Status::Corruption("the library's fusion setting has no weights: run tune again");
  const bool standardized = member("method") == "standardized";
  TunedFusion fusion;
  if (const nlohmann::json rerank = member("rerank"); !rerank.is_null()) {
    Result<Rerank> parsed = Status::InvalidArgument("not a string");
    if (rerank.is_string()) parsed = ParseRerank(rerank.get<std::string>());
    if (!parsed.ok())
      return Status::Corruption("the library's fusion setting has a bad rerank (" +
                                parsed.status().message() + "): run tune again");
    fusion.rerank = *parsed;
  }
  for (const BoundModel& m : models) {
    auto w = weights.find(m.source.name);
    fusion.weights.push_back(w != weights.end() && w->is_number() ? w->get<double>() : 0.0);
    if (!standardized) continue;
    auto s = scales.is_object() ? scales.find(m.source.name) : scales.end();
    DistanceScale scale;
    if (s != scales.end() && s->is_object()) {
      scale.center = NumberOr(*s, "center", 0.0);
      scale.spread = NumberOr(*s, "spread", 1.0);
      auto root = s->find("root");
      scale.root = root != s->end() && root->is_boolean() && root->get<bool>();
    } else if (fusion.weights.back() > 0) {
      return Status::Corruption("the library's fusion setting has no scale for model \"" +
                                m.source.name + "\": run tune again");
    }
    if (!(scale.spread > 0))
      return Status::Corruption("the library's fusion setting has a spread <= 0: run tune again");
    fusion.scales.push_back(scale);
  }
  return std::optional<TunedFusion>(std::move(fusion));
}

}  // namespace imgsearch::pipeline
