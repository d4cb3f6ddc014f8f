#include "pipeline/search.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <limits>
#include <map>
#include <numeric>
#include <tuple>

#include "base/env.h"
#include "image/resize.h"
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

// Gives each hit its image's path, hash, width, height and mtime (and the user's fields
// when `with_user_fields`). A hit whose image was removed between the two reads is left
// out.
Status AttachImageFields(const Collection& images, std::vector<Hit>* hits, bool with_user_fields) {
  std::vector<int64_t> ids;
  for (const Hit& hit : *hits) ids.push_back(hit.id);
  std::vector<std::string> names = {"path", "hash", "width", "height", "mtime"};
  if (with_user_fields) names.push_back("fields");
  IMGSEARCH_ASSIGN_OR_RETURN(std::vector<Row> rows, images.Get(ids, names));
  std::map<int64_t, nlohmann::json> fields;
  for (Row& row : rows) fields[row.id] = std::move(row.fields);
  std::erase_if(*hits, [&](const Hit& hit) { return !fields.count(hit.id); });
  for (Hit& hit : *hits) hit.row.fields = std::move(fields[hit.id]);
  return Status::Ok();
}

Result<std::string> PathOfId(const Collection& images, int64_t id) {
  IMGSEARCH_ASSIGN_OR_RETURN(std::vector<Row> rows, images.Get({id}, {"path"}));
  if (rows.empty()) return Status::NotFound("no image with id " + std::to_string(id));
  return rows[0].fields.value("path", std::string());
}

Result<Image> Cropped(const Image& image, const CropBox& box) {
  if (box.x < 0 || box.y < 0 || box.width < 1 || box.height < 1 ||
      int64_t(box.x) + box.width > image.width || int64_t(box.y) + box.height > image.height)
    return Status::InvalidArgument(
        "the crop box " + std::to_string(box.x) + "," + std::to_string(box.y) + "," +
        std::to_string(box.width) + "," + std::to_string(box.height) + " does not lie inside the " +
        std::to_string(image.width) + "x" + std::to_string(image.height) + " picture");
  return image::Crop(image, box.x, box.y, box.width, box.height);
}

bool MeasuresSimilarity(const BoundModel& model) {
  const std::string& metric = model.collection->index().metric_type;
  return metric == "IP" || metric == "COSINE";
}

// Cutoffs name models that exist and fit their metric; the order and the page are known.
Status CheckCutoffsAndOrder(const std::vector<BoundModel>& models, const SearchOptions& options) {
  if (options.order != "relevance" && options.order != "date" && options.order != "-date")
    return Status::InvalidArgument("order must be relevance, date or -date, not \"" +
                                   options.order + "\"");
  if (options.offset < 0 || options.offset > kMaxSearchDepth - options.k)
    return Status::InvalidArgument("offset must be between 0 and " +
                                   std::to_string(kMaxSearchDepth) + " - k");
  for (bool similarity : {false, true}) {
    for (const auto& entry : similarity ? options.min_score : options.max_distance) {
      const std::string& name = entry.first;  // a lambda below uses it (no bindings there)
      if (name.empty()) continue;
      auto model = std::find_if(models.begin(), models.end(),
                                [&](const BoundModel& m) { return m.source.name == name; });
      if (model == models.end())
        return Status::NotFound("a cutoff for model \"" + name + "\", which the library has not");
      if (MeasuresSimilarity(*model) != similarity)
        return Status::InvalidArgument(
            "model \"" + name + "\" reports " +
            (similarity ? "distances: give it a max_distance, not a min_score"
                        : "similarities: give it a min_score, not a max_distance"));
    }
  }
  return Status::Ok();
}

// Whether a hit of `model` passes its cutoff: its own, else the one for every model.
bool WithinCutoff(const BoundModel& model, const SearchOptions& options, double reported) {
  bool similarity = MeasuresSimilarity(model);
  const std::map<std::string, double>& cutoffs =
      similarity ? options.min_score : options.max_distance;
  auto it = cutoffs.find(model.source.name);
  if (it == cutoffs.end()) it = cutoffs.find("");
  if (it == cutoffs.end()) return true;
  return similarity ? reported >= it->second : reported <= it->second;
}

// What a result sorts by when ordered by date: a number (mtime, or a numeric user field),
// then text (a user field written as a date), then nothing (no such field).
struct DateKey {
  int kind = 2;  // 0: number, 1: text, 2: none
  double number = 0;
  std::string text;
};

DateKey DateOf(const nlohmann::json& fields, const std::string& date_field) {
  if (date_field.empty()) return {0, double(fields.value("mtime", int64_t{0})), ""};
  auto user = fields.find("fields");
  if (user == fields.end() || !user->is_object()) return {};
  auto value = user->find(date_field);
  if (value == user->end()) return {};
  if (value->is_number()) return {0, value->get<double>(), ""};
  if (value->is_string()) return {1, 0, value->get<std::string>()};
  return {};
}

// The positions of `fields` in date order (stable: equal dates keep their relevance order);
// images without a date come last either way.
std::vector<size_t> DateOrder(const std::vector<const nlohmann::json*>& fields,
                              const SearchOptions& options) {
  std::vector<DateKey> keys;
  for (const nlohmann::json* f : fields) keys.push_back(DateOf(*f, options.date_field));
  std::vector<size_t> order(fields.size());
  std::iota(order.begin(), order.end(), size_t{0});
  bool newest_first = options.order == "-date";
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    const DateKey &a = keys[x], &b = keys[y];
    if (a.kind != b.kind) return a.kind < b.kind;
    if (newest_first) return std::tie(b.number, b.text) < std::tie(a.number, a.text);
    return std::tie(a.number, a.text) < std::tie(b.number, b.text);
  });
  return order;
}

template <typename T>
void Reorder(std::vector<T>* items, const std::vector<size_t>& order) {
  std::vector<T> sorted;
  for (size_t i : order) sorted.push_back(std::move((*items)[i]));
  *items = std::move(sorted);
}

// Drops the first `offset` and keeps at most `k`.
template <typename T>
void Page(std::vector<T>* items, int offset, int k) {
  items->erase(items->begin(), items->begin() + std::min<long>(offset, long(items->size())));
  if (items->size() > size_t(k)) items->resize(size_t(k));
}

// The fused hits in the order asked for, cut off and paged; each with its file's mtime.
Status FinishFused(const Collection& images, const SearchOptions& options,
                   std::vector<FusedHit>* fused) {
  if (options.min_fused_score)
    std::erase_if(*fused, [&](const FusedHit& f) { return f.score < *options.min_fused_score; });
  std::vector<int64_t> ids;
  for (const FusedHit& f : *fused) ids.push_back(f.id);
  std::vector<std::string> names = {"mtime"};
  if (!options.date_field.empty()) names.push_back("fields");
  IMGSEARCH_ASSIGN_OR_RETURN(std::vector<Row> rows, images.Get(ids, names));
  std::map<int64_t, nlohmann::json> fields;
  for (Row& row : rows) fields[row.id] = std::move(row.fields);
  std::vector<const nlohmann::json*> of;
  for (FusedHit& f : *fused) {
    const nlohmann::json& found = fields[f.id];
    f.mtime_ns = found.value("mtime", int64_t{0});
    of.push_back(&found);
  }
  if (options.order != "relevance") Reorder(fused, DateOrder(of, options));
  Page(fused, options.offset, options.k);
  return Status::Ok();
}

}  // namespace

Result<CropBox> ParseCropBox(const std::string& text) {
  std::vector<int> numbers;
  for (size_t at = 0; at <= text.size() && numbers.size() <= 4;) {
    size_t comma = std::min(text.find(',', at), text.size());
    std::string part = text.substr(at, comma - at);
    if (part.empty() || part.size() > 6 ||
        part.find_first_not_of("0123456789") != std::string::npos)
      numbers.assign(5, 0);  // not a whole number: refused below
    else
      numbers.push_back(std::stoi(part));
    at = comma + 1;
  }
  if (numbers.size() != 4 || numbers[2] < 1 || numbers[3] < 1)
    return Status::InvalidArgument(
        "a crop box is X,Y,WIDTH,HEIGHT in pixels (width and height above 0), not \"" + text +
        "\"");
  return CropBox{numbers[0], numbers[1], numbers[2], numbers[3]};
}

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
  const SearchOptions* options = nullptr;  // the cutoffs, order and page
  int k = 10;
  int offset = 0;
  int depth = 10;  // the length of each model's ranked list
  bool by_date = false;
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
  const SearchOptions& options = *context.options;
  IMGSEARCH_RETURN_IF_ERROR(
      AttachImageFields(images, &found[0], context.by_date && !options.date_field.empty()));
  for (Hit& hit : found[0]) {
    bool self = hit.id == context.query_id ||
                (!context.query_hash.empty() && hit.row.fields.at("hash") == context.query_hash);
    if (context.exclude_self && self) continue;
    if (static_cast<int>(answer.ranked.size()) >= context.depth) break;
    answer.ranked.push_back({hit.id, hit.distance});
    (*paths)[hit.id] = hit.row.fields.at("path").get<std::string>();
    if (WithinCutoff(model, options, hit.distance)) answer.out.hits.push_back(std::move(hit));
  }
  if (context.by_date) {
    std::vector<const nlohmann::json*> fields;
    for (const Hit& hit : answer.out.hits) fields.push_back(&hit.row.fields);
    Reorder(&answer.out.hits, DateOrder(fields, options));
  }
  Page(&answer.out.hits, context.offset, context.k);
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
  IMGSEARCH_ASSIGN_OR_RETURN(
      std::vector<SearchResults> results,
      SearchModelsReranked(models, images, query, options, {options.rerank}, tuned, whole_lists));
  return std::move(results[0]);
}

Result<std::vector<SearchResults>> SearchModelsReranked(
    std::vector<BoundModel>& models, const Collection& images, const Query& query,
    const SearchOptions& options, const std::vector<std::string>& reranks, const TunedFusion* tuned,
    bool whole_lists) {
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
  IMGSEARCH_RETURN_IF_ERROR(CheckCutoffsAndOrder(models, options));
  std::vector<Rerank> parsed;
  int deepest = 0;  // the first search is as deep as the deepest expansion needs
  for (const std::string& text : reranks) {
    Rerank& rerank = parsed.emplace_back();
    if (!text.empty()) {
      IMGSEARCH_ASSIGN_OR_RETURN(rerank, ParseRerank(text));
    }
    deepest = std::max(deepest, rerank.qe);
  }
  SearchContext context;
  context.options = &options;
  context.k = options.k;
  context.offset = options.offset;
  // Fusion looks deeper into each list than the K it returns; an order by date looks at
  // every hit it may return; query expansion takes its top N from the list.
  const int wanted = options.offset + options.k;
  context.by_date = options.order != "relevance";
  context.depth = context.by_date        ? kMaxSearchDepth
                  : options.fuse.empty() ? wanted
                                         : std::min(kMaxSearchDepth, std::max(wanted * 4, 50));
  context.depth = std::max(context.depth, deepest);
  context.exclude_self = options.exclude_self;
  if (whole_lists) context.k = context.depth;
  context.query_id = query.id;
  std::optional<Image> image;
  if (query.id < 0 || options.crop) {
    DecodeOptions decode = DecodeOptionsForAll(models);
    if (options.max_pixels > 0) decode.max_pixels = options.max_pixels;
    std::string bytes = query.bytes, path = query.path;
    if (query.id >= 0) {
      IMGSEARCH_ASSIGN_OR_RETURN(path, PathOfId(images, query.id));
    }
    if (bytes.empty()) {
      IMGSEARCH_ASSIGN_OR_RETURN(bytes,
                                 base::Env::Default()->ReadFile(path, decode.max_file_bytes));
    }
    if (query.id < 0) context.query_hash = ContentHash(bytes);
    IMGSEARCH_ASSIGN_OR_RETURN(image, DecodeImage(bytes, path, decode));
    if (options.crop) {
      IMGSEARCH_ASSIGN_OR_RETURN(image, Cropped(*image, *options.crop));
    }
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
    IMGSEARCH_ASSIGN_OR_RETURN(QueryVector v,
                               image ? VectorOfImage(model, *image) : VectorOfId(model, query.id));
    IMGSEARCH_ASSIGN_OR_RETURN(ModelAnswer answer, SearchModel(model, images, v, context, &paths));
    used.push_back(&model);
    vectors.push_back(std::move(v));
    answers.push_back(std::move(answer));
  }
  auto fuse = [&](const std::vector<ModelAnswer>& current, size_t k) {
    std::vector<std::vector<Ranked>> lists;
    for (const ModelAnswer& a : current) lists.push_back(a.ranked);
    if (options.fuse == "rrf") return FuseRrf(lists, k);
    if (options.fuse == "weighted") return FuseWeighted(lists, list_weights, k);
    if (list_scales.empty()) return FuseWeightedRrf(lists, list_weights, k);  // tuned before scales
    return FuseStandardized(lists, list_weights, list_scales, k);
  };
  std::vector<SearchResults> all;
  for (const Rerank& rerank : parsed) {
    // The first answers are kept for the next re-ranking; the last one takes them.
    std::vector<ModelAnswer> reranked;
    if (all.size() + 1 == parsed.size()) {
      reranked = std::move(answers);
    } else {
      reranked = answers;
    }
    if (rerank.on()) {
      // Fused, every model expands with the fused ranking's top N; alone, with its own.
      std::vector<int64_t> fused_top;
      if (!options.fuse.empty()) {
        for (const Fused& f : fuse(reranked, static_cast<size_t>(rerank.qe)))
          fused_top.push_back(f.id);
      }
      for (size_t i = 0; i < reranked.size(); ++i) {
        std::vector<int64_t> neighbours =
            options.fuse.empty() ? TopIds(reranked[i].ranked, rerank.qe) : fused_top;
        IMGSEARCH_RETURN_IF_ERROR(ExpandAndSearch(*used[i], images, vectors[i], neighbours,
                                                  rerank.alpha, context, &paths, &reranked[i]));
      }
    }
    SearchResults& results = all.emplace_back();
    if (!options.fuse.empty()) {
      for (const Fused& f : fuse(reranked, context.by_date ? kMaxSearchDepth : wanted))
        results.fused.push_back({f.id, f.score, paths[f.id], 0});
      IMGSEARCH_RETURN_IF_ERROR(FinishFused(images, options, &results.fused));
      results.fusion = options.fuse;
    }
    results.offset = options.offset;
    if (rerank.on()) results.rerank = rerank.ToString();
    for (ModelAnswer& a : reranked) results.models.push_back(std::move(a.out));
  }
  return all;
}

nlohmann::json SearchResultsJson(const std::string& query_label, const SearchResults& all) {
  nlohmann::json out = {{"query", query_label}, {"results", nlohmann::json::object()}};
  for (const auto& r : all.models) {
    nlohmann::json hits = nlohmann::json::array();
    for (size_t i = 0; i < r.hits.size(); ++i) {
      const Hit& h = r.hits[i];
      hits.push_back({{"rank", size_t(all.offset) + i + 1},
                      {"id", h.id},
                      {"distance", h.distance},
                      {"path", h.row.fields.at("path")},
                      {"mtime_ns", h.row.fields.value("mtime", int64_t{0})}});
    }
    out["results"][r.model] = hits;
  }
  if (!all.rerank.empty()) out["rerank"] = all.rerank;
  if (!all.fusion.empty()) {
    out["fusion"] = all.fusion;
    out["fused"] = nlohmann::json::array();
    for (size_t i = 0; i < all.fused.size(); ++i) {
      const auto& f = all.fused[i];
      out["fused"].push_back({{"rank", size_t(all.offset) + i + 1},
                              {"id", f.id},
                              {"score", f.score},
                              {"path", f.path},
                              {"mtime_ns", f.mtime_ns}});
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
