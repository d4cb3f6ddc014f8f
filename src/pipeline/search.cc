#include "pipeline/search.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <limits>
#include <map>

#include "base/env.h"
#include "index/metric.h"
#include "pipeline/agreement.h"
#include "pipeline/images.h"
#include "pipeline/ingest.h"
#include "pipeline/rerank.h"

namespace imgsearch::pipeline {
namespace {

// The query as each model sees it: a vector, and the hash of the query image if known.
struct QueryVector {
  std::vector<float> floats;
  std::vector<uint8_t> bits;
};

Result<QueryVector> VectorOfId(const BoundModel& model, int64_t id) {
  IMGSEARCH_ASSIGN_OR_RETURN(
      std::vector<Row> rows,
      model.collection->Get({id}, {model.collection->schema().vector_field}));
  if (rows.empty())
    return Status::NotFound("id " + std::to_string(id) + " is not in model \"" + model.source.name +
                            "\"");
  return QueryVector{rows[0].vector, rows[0].binary_vector};
}

Result<QueryVector> VectorOfImage(const BoundModel& model, const Image& image) {
  IMGSEARCH_ASSIGN_OR_RETURN(Embeddings e, model.embedder->Embed(std::span(&image, 1)));
  if (e.type == VectorType::kBinary)
    return QueryVector{{}, std::vector<uint8_t>(e.bits.begin(), e.bits.end())};
  return QueryVector{e.floats, {}};
}

// Gives each hit its image's path, hash, width and height. A hit whose image was removed
// between the two reads is left out.
Status AttachImageFields(const Collection& images, std::vector<Hit>* hits) {
  std::vector<int64_t> ids;
  for (const Hit& hit : *hits) ids.push_back(hit.id);
  IMGSEARCH_ASSIGN_OR_RETURN(std::vector<Row> rows,
                             images.Get(ids, {"path", "hash", "width", "height"}));
  std::map<int64_t, nlohmann::json> fields;
  for (Row& row : rows) fields[row.id] = std::move(row.fields);
  std::erase_if(*hits, [&](const Hit& hit) { return !fields.count(hit.id); });
  for (Hit& hit : *hits) hit.row.fields = std::move(fields[hit.id]);
  return Status::Ok();
}

}  // namespace

Result<Query> ParseQuery(const std::string& text) {
  Query q;
  if (text.rfind("id:", 0) == 0) {
    std::string digits = text.substr(3);
    if (digits.empty() || digits.size() > 18 ||
        digits.find_first_not_of("0123456789") != std::string::npos) {
      return Status::InvalidArgument("query \"" + text +
                                     "\": expected id:<number> or an image file");
    }
    q.id = std::stoll(digits);
    return q;
  }
  q.path = text;
  return q;
}

namespace {

// What every model's search of one query shares.
struct SearchContext {
  int k = 10;
  int depth = 10;  // the length of each model's ranked list
  bool exclude_self = false;
  int64_t query_id = -1;
  std::string query_hash;
  std::optional<std::vector<int64_t>> allowed;  // ids that passed the filter
};

// One model's answer: its first K hits, and its ranked list (smaller is nearer) for fusion.
struct ModelAnswer {
  ModelResults out;
  std::vector<Ranked> ranked;
};

Result<ModelAnswer> SearchModel(const BoundModel& model, const Collection& images,
                                const QueryVector& v, const SearchContext& context,
                                std::map<int64_t, std::string>* paths) {
  SearchRequest request;
  if (v.bits.empty()) {
    request.vectors = {v.floats};
  } else {
    request.binary_vectors = {v.bits};
  }
  request.limit = context.depth + (context.exclude_self ? 1 : 0);
  request.ids = context.allowed;
  auto started = std::chrono::steady_clock::now();
  const Collection& searched = model.augmented ? *model.augmented : *model.collection;
  IMGSEARCH_ASSIGN_OR_RETURN(auto found, searched.Search(request));
  ModelAnswer answer{{model.source.name, {}, 0}, {}};
  answer.out.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  IMGSEARCH_RETURN_IF_ERROR(AttachImageFields(images, &found[0]));
  for (Hit& hit : found[0]) {
    bool self = hit.id == context.query_id ||
                (!context.query_hash.empty() && hit.row.fields.at("hash") == context.query_hash);
    if (context.exclude_self && self) continue;
    if (static_cast<int>(answer.ranked.size()) >= context.depth) break;
    answer.ranked.push_back({hit.id, hit.distance});
    (*paths)[hit.id] = hit.row.fields.at("path").get<std::string>();
    if (static_cast<int>(answer.out.hits.size()) < context.k)
      answer.out.hits.push_back(std::move(hit));
  }
  // IP and COSINE report similarities, larger first; fusion wants smaller-is-nearer.
  std::string metric = model.collection->index().metric_type;
  if (metric == "IP" || metric == "COSINE") {
    for (Ranked& r : answer.ranked) r.distance = -r.distance;
  }
  return answer;
}

// The model's query expanded with the vectors of `neighbours` (rerank.h), searched again;
// the time taken is added to the answer's. Binary models keep their answer.
Status ExpandAndSearch(const BoundModel& model, const Collection& images, const QueryVector& v,
                       const std::vector<int64_t>& neighbours, double alpha,
                       const SearchContext& context, std::map<int64_t, std::string>* paths,
                       ModelAnswer* answer) {
  if (v.floats.empty() || neighbours.empty()) return Status::Ok();
  auto started = std::chrono::steady_clock::now();
  IMGSEARCH_ASSIGN_OR_RETURN(index::Metric metric,
                             index::ParseMetric(model.collection->index().metric_type));
  // The vectors search compared with: the augmented ones under DBA.
  const Collection& searched = model.augmented ? *model.augmented : *model.collection;
  IMGSEARCH_ASSIGN_OR_RETURN(std::vector<Row> rows,
                             searched.Get(neighbours, {searched.schema().vector_field}));
  std::vector<std::vector<float>> vectors;
  for (Row& row : rows) vectors.push_back(std::move(row.vector));
  QueryVector expanded{ExpandQuery(metric, v.floats, vectors, alpha), {}};
  double spent = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  double first = answer->out.seconds;
  IMGSEARCH_ASSIGN_OR_RETURN(*answer, SearchModel(model, images, expanded, context, paths));
  answer->out.seconds += first + spent;
  return Status::Ok();
}

// The first `n` ids of a ranked list.
std::vector<int64_t> TopIds(const std::vector<Ranked>& ranked, size_t n) {
  std::vector<int64_t> ids;
  for (size_t i = 0; i < ranked.size() && i < n; ++i) ids.push_back(ranked[i].id);
  return ids;
}

}  // namespace

Result<SearchResults> SearchModels(std::vector<BoundModel>& models, const Collection& images,
                                   const Query& query, const SearchOptions& options,
                                   const TunedFusion* tuned, bool whole_lists) {
  if (options.k < 1 || options.k > 4096)
    return Status::InvalidArgument("k must be between 1 and 4096");
  if (!options.fuse.empty() && options.fuse != "rrf" && options.fuse != "weighted" &&
      options.fuse != "tuned") {
    return Status::InvalidArgument("fuse must be auto, tuned, rrf or weighted, not \"" +
                                   options.fuse + "\"");
  }
  if (options.fuse == "tuned" &&
      (!tuned || tuned->weights.size() != models.size() ||
       (!tuned->scales.empty() && tuned->scales.size() != models.size())))
    return Status::InvalidArgument("no tuned fusion for these models: run imgsearch tune first");
  if (!options.weights.empty() && options.weights.size() != models.size()) {
    return Status::InvalidArgument("give one weight per model (" + std::to_string(models.size()) +
                                   ")");
  }
  Rerank rerank;
  if (!options.rerank.empty()) {
    IMGSEARCH_ASSIGN_OR_RETURN(rerank, ParseRerank(options.rerank));
  }
  SearchContext context;
  context.k = options.k;
  // Fusion looks deeper into each list than the K it returns; query expansion takes its
  // top N from the list.
  context.depth = options.fuse.empty() ? options.k : std::max(options.k * 4, 50);
  context.depth = std::max(context.depth, rerank.qe);
  context.exclude_self = options.exclude_self;
  if (whole_lists) context.k = context.depth;
  context.query_id = query.id;
  std::optional<Image> image;
  if (query.id < 0) {
    DecodeOptions decode = DecodeOptionsForAll(models);
    if (options.max_pixels > 0) decode.max_pixels = options.max_pixels;
    std::string bytes = query.bytes;
    if (bytes.empty()) {
      IMGSEARCH_ASSIGN_OR_RETURN(bytes,
                                 base::Env::Default()->ReadFile(query.path, decode.max_file_bytes));
    }
    context.query_hash = ContentHash(bytes);
    IMGSEARCH_ASSIGN_OR_RETURN(image, DecodeImage(bytes, query.path, decode));
  }
  // The filter is on the images' fields; the models search among the ids that pass.
  if (!options.filter.empty()) {
    QueryRequest matching;
    matching.filter = options.filter;
    matching.limit = std::numeric_limits<int64_t>::max();
    IMGSEARCH_ASSIGN_OR_RETURN(std::vector<Row> rows, images.Query(matching));
    context.allowed.emplace();
    for (const Row& row : rows) context.allowed->push_back(row.id);
  }
  std::vector<double> list_weights;        // the weight of each list's model
  std::vector<DistanceScale> list_scales;  // and the scale of its distances, when tuned
  std::map<int64_t, std::string> paths;
  for (const std::string& name : options.only) {
    bool known = std::any_of(models.begin(), models.end(),
                             [&](const BoundModel& m) { return m.source.name == name; });
    if (!known) return Status::NotFound("model \"" + name + "\" is not used by this database");
  }
  std::vector<const BoundModel*> used;
  std::vector<QueryVector> vectors;
  std::vector<ModelAnswer> answers;
  for (size_t m = 0; m < models.size(); ++m) {
    BoundModel& model = models[m];
    if (!options.only.empty() && std::find(options.only.begin(), options.only.end(),
                                           model.source.name) == options.only.end()) {
      continue;
    }
    if (options.fuse == "tuned") {
      list_weights.push_back(tuned->weights[m]);
      if (!tuned->scales.empty()) list_scales.push_back(tuned->scales[m]);
    } else {
      list_weights.push_back(m < options.weights.size() ? options.weights[m] : 1.0);
    }
    IMGSEARCH_ASSIGN_OR_RETURN(
        QueryVector v, query.id >= 0 ? VectorOfId(model, query.id) : VectorOfImage(model, *image));
    IMGSEARCH_ASSIGN_OR_RETURN(ModelAnswer answer, SearchModel(model, images, v, context, &paths));
    used.push_back(&model);
    vectors.push_back(std::move(v));
    answers.push_back(std::move(answer));
  }
  auto fuse = [&](size_t k) {
    std::vector<std::vector<Ranked>> lists;
    for (const ModelAnswer& a : answers) lists.push_back(a.ranked);
    if (options.fuse == "rrf") return FuseRrf(lists, k);
    if (options.fuse == "weighted") return FuseWeighted(lists, list_weights, k);
    if (list_scales.empty()) return FuseWeightedRrf(lists, list_weights, k);  // tuned before scales
    return FuseStandardized(lists, list_weights, list_scales, k);
  };
  if (rerank.on()) {
    // Fused, every model expands with the fused ranking's top N; alone, with its own.
    std::vector<int64_t> fused_top;
    if (!options.fuse.empty()) {
      for (const Fused& f : fuse(static_cast<size_t>(rerank.qe))) fused_top.push_back(f.id);
    }
    for (size_t i = 0; i < answers.size(); ++i) {
      std::vector<int64_t> neighbours =
          options.fuse.empty() ? TopIds(answers[i].ranked, rerank.qe) : fused_top;
      IMGSEARCH_RETURN_IF_ERROR(ExpandAndSearch(*used[i], images, vectors[i], neighbours,
                                                rerank.alpha, context, &paths, &answers[i]));
    }
  }
  SearchResults results;
  if (!options.fuse.empty()) {
    for (const Fused& f : fuse(options.k)) results.fused.push_back({f.id, f.score, paths[f.id]});
    results.fusion = options.fuse;
  }
  if (rerank.on()) results.rerank = rerank.ToString();
  for (ModelAnswer& a : answers) results.models.push_back(std::move(a.out));
  return results;
}

nlohmann::json SearchResultsJson(const std::string& query_label, const SearchResults& all) {
  nlohmann::json out = {{"query", query_label}, {"results", nlohmann::json::object()}};
  for (const auto& r : all.models) {
    nlohmann::json hits = nlohmann::json::array();
    for (size_t i = 0; i < r.hits.size(); ++i) {
      const Hit& h = r.hits[i];
      hits.push_back({{"rank", i + 1},
                      {"id", h.id},
                      {"distance", h.distance},
                      {"path", h.row.fields.at("path")}});
    }
    out["results"][r.model] = hits;
  }
  if (!all.rerank.empty()) out["rerank"] = all.rerank;
  if (!all.fused.empty()) {
    out["fusion"] = all.fusion;
    out["fused"] = nlohmann::json::array();
    for (size_t i = 0; i < all.fused.size(); ++i) {
      const auto& f = all.fused[i];
      out["fused"].push_back({{"rank", i + 1}, {"id", f.id}, {"score", f.score}, {"path", f.path}});
    }
  }
  return out;
}

nlohmann::json DescribeCollections(const Database& db) {
  nlohmann::json list = nlohmann::json::array();
  for (const std::string& name : db.ListCollections()) {
    auto c = db.GetCollection(name);
    if (!c.ok()) continue;  // dropped meanwhile
    IndexSpec index = (*c)->index();
    const CollectionSchema& s = (*c)->schema();
    list.push_back({{"name", name},
                    {"rows", (*c)->Count()},
                    {"dimension", s.dimension},
                    {"vector", s.binary() ? "binary" : "float"},
                    {"index", index.index_type},
                    {"metric", index.metric_type}});
  }
  return list;
}

}  // namespace imgsearch::pipeline
