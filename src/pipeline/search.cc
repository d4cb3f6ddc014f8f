#include "pipeline/search.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <limits>
#include <map>

#include "base/env.h"
#include "pipeline/agreement.h"
#include "pipeline/images.h"
#include "pipeline/ingest.h"

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

Result<SearchResults> SearchModels(std::vector<BoundModel>& models, const Collection& images,
                                   const Query& query, const SearchOptions& options,
                                   const TunedFusion* tuned) {
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
  // Fusion looks deeper into each list than the K it returns.
  const int depth = options.fuse.empty() ? options.k : std::max(options.k * 4, 50);
  std::optional<Image> image;
  std::string query_hash;
  if (query.id < 0) {
    DecodeOptions decode = DecodeOptionsForAll(models);
    if (options.max_pixels > 0) decode.max_pixels = options.max_pixels;
    std::string bytes = query.bytes;
    if (bytes.empty()) {
      IMGSEARCH_ASSIGN_OR_RETURN(bytes,
                                 base::Env::Default()->ReadFile(query.path, decode.max_file_bytes));
    }
    query_hash = ContentHash(bytes);
    IMGSEARCH_ASSIGN_OR_RETURN(image, DecodeImage(bytes, query.path, decode));
  }
  // The filter is on the images' fields; the models search among the ids that pass.
  std::optional<std::vector<int64_t>> allowed;
  if (!options.filter.empty()) {
    QueryRequest matching;
    matching.filter = options.filter;
    matching.limit = std::numeric_limits<int64_t>::max();
    IMGSEARCH_ASSIGN_OR_RETURN(std::vector<Row> rows, images.Query(matching));
    allowed.emplace();
    for (const Row& row : rows) allowed->push_back(row.id);
  }
  SearchResults results;
  std::vector<std::vector<Ranked>> lists;
  std::vector<double> list_weights;        // the weight of each list's model
  std::vector<DistanceScale> list_scales;  // and the scale of its distances, when tuned
  std::map<int64_t, std::string> paths;
  for (const std::string& name : options.only) {
    bool known = std::any_of(models.begin(), models.end(),
                             [&](const BoundModel& m) { return m.source.name == name; });
    if (!known) return Status::NotFound("model \"" + name + "\" is not used by this database");
  }
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
    SearchRequest request;
    if (v.bits.empty()) {
      request.vectors = {std::move(v.floats)};
    } else {
      request.binary_vectors = {std::move(v.bits)};
    }
    request.limit = depth + (options.exclude_self ? 1 : 0);
    request.ids = allowed;
    auto started = std::chrono::steady_clock::now();
    IMGSEARCH_ASSIGN_OR_RETURN(auto found, model.collection->Search(request));
    ModelResults out{model.source.name, {}, 0};
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    IMGSEARCH_RETURN_IF_ERROR(AttachImageFields(images, &found[0]));
    std::vector<Ranked> ranked;
    for (Hit& hit : found[0]) {
      bool self =
          hit.id == query.id || (!query_hash.empty() && hit.row.fields.at("hash") == query_hash);
      if (options.exclude_self && self) continue;
      if (static_cast<int>(ranked.size()) >= depth) break;
      ranked.push_back({hit.id, hit.distance});
      paths[hit.id] = hit.row.fields.at("path").get<std::string>();
      if (static_cast<int>(out.hits.size()) < options.k) out.hits.push_back(std::move(hit));
    }
    // IP and COSINE report similarities, larger first; fusion wants smaller-is-nearer.
    std::string metric = model.collection->index().metric_type;
    if (metric == "IP" || metric == "COSINE") {
      for (Ranked& r : ranked) r.distance = -r.distance;
    }
    lists.push_back(std::move(ranked));
    results.models.push_back(std::move(out));
  }
  if (!options.fuse.empty()) {
    std::vector<Fused> fused;
    if (options.fuse == "rrf") {
      fused = FuseRrf(lists, options.k);
    } else if (options.fuse == "weighted") {
      fused = FuseWeighted(lists, list_weights, options.k);
    } else if (list_scales.empty()) {  // tuned before scales were kept
      fused = FuseWeightedRrf(lists, list_weights, options.k);
    } else {
      fused = FuseStandardized(lists, list_weights, list_scales, options.k);
    }
    for (const Fused& f : fused) results.fused.push_back({f.id, f.score, paths[f.id]});
    results.fusion = options.fuse;
  }
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
