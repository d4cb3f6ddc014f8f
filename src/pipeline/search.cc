#include "pipeline/search.h"

#include <filesystem>

#include "base/env.h"
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

Result<std::vector<ModelResults>> SearchModels(std::vector<BoundModel>& models, const Query& query,
                                               const SearchOptions& options) {
  if (options.k < 1 || options.k > 16384)
    return Status::InvalidArgument("k must be between 1 and 16384");
  std::optional<Image> image;
  std::string query_hash;
  if (query.id < 0) {
    DecodeOptions decode = models[0].embedder->decode_options();
    for (const auto& m : models) decode = MergeDecodeOptions(decode, m.embedder->decode_options());
    IMGSEARCH_ASSIGN_OR_RETURN(std::string bytes,
                               base::Env::Default()->ReadFile(query.path, decode.max_file_bytes));
    query_hash = ContentHash(bytes);
    IMGSEARCH_ASSIGN_OR_RETURN(image, DecodeImage(bytes, query.path, decode));
  }
  std::vector<ModelResults> results;
  for (BoundModel& model : models) {
    IMGSEARCH_ASSIGN_OR_RETURN(
        QueryVector v, query.id >= 0 ? VectorOfId(model, query.id) : VectorOfImage(model, *image));
    SearchRequest request;
    if (v.bits.empty()) {
      request.vectors = {std::move(v.floats)};
    } else {
      request.binary_vectors = {std::move(v.bits)};
    }
    request.limit = options.k + (options.exclude_self ? 1 : 0);
    request.filter = options.filter;
    request.output_fields = {"path", "hash", "width", "height"};
    IMGSEARCH_ASSIGN_OR_RETURN(auto found, model.collection->Search(request));
    ModelResults out{model.source.name, {}};
    for (Hit& hit : found[0]) {
      bool self =
          hit.id == query.id || (!query_hash.empty() && hit.row.fields.at("hash") == query_hash);
      if (options.exclude_self && self) continue;
      if (static_cast<int>(out.hits.size()) < options.k) out.hits.push_back(std::move(hit));
    }
    results.push_back(std::move(out));
  }
  return results;
}

}  // namespace imgsearch::pipeline
