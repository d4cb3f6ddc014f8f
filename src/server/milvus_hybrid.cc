// entities/hybrid_search: several searches of one collection, their hits fused by
// Milvus's rerankers.
//
//   rrf:      score = sum over the searches of 1 / (k + rank), rank counted from 1
//             (params.k, default 60)
//   weighted: score = sum of weight_i * normalized distance_i (params.weights, one per
//             search). Distances are normalized to 0..1 with larger better, as Milvus
//             does: COSINE (1 + d) / 2, IP 1/2 + atan(d) / pi, distances (L2, HAMMING,
//             JACCARD) 1 - 2 atan(d) / pi; params.norm_score false sums them unchanged.
//
// A hit missing from some search's list gets nothing from that search. Each search
// names its vector field (annsField; with one vector field it may leave it out), so a
// collection with one vector per model is searched by all of them at once.
#include <algorithm>
#include <cmath>
#include <map>

#include "server/milvus_request.h"

namespace imgsearch::server {

using json = nlohmann::json;
using Context = MilvusApi::Context;

namespace {

struct Reranker {
  bool rrf = true;
  double k = 60;
  std::vector<double> weights;
  bool normalize = true;
};

double NumberParam(const json& params, const char* key, double fallback) {
  if (!params.contains(key)) return fallback;
  const json& v = params[key];
  if (v.is_number()) return v.get<double>();
  Fail(kMilvusParameterInvalid, std::string("rerank parameter ") + key + " must be a number");
}

Reranker ReadReranker(const Context& c, size_t searches) {
  const json& rerank = c.Object("rerank");
  std::string strategy = rerank.value("strategy", "");
  const json params = rerank.contains("params") ? rerank["params"] : json::object();
  if (!params.is_object()) Fail(kMilvusIncorrectParameterFormat, "rerank params must be an object");
  Reranker out;
  if (strategy == "rrf") {
    out.k = NumberParam(params, "k", 60);
    if (out.k <= 0 || out.k >= 16384) Fail(kMilvusParameterInvalid, "rrf k must be in (0, 16384)");
  } else if (strategy == "weighted") {
    out.rrf = false;
    if (!params.contains("weights") || !params["weights"].is_array())
      Fail(kMilvusMissingRequiredParameters, "the weighted reranker needs params.weights");
    for (const json& w : params["weights"]) {
      if (!w.is_number() || w.get<double>() < 0 || w.get<double>() > 1)
        Fail(kMilvusParameterInvalid, "weights must be numbers between 0 and 1");
      out.weights.push_back(w.get<double>());
    }
    if (out.weights.size() != searches) {
      Fail(kMilvusParameterInvalid, "the number of weights (" + std::to_string(out.weights.size()) +
                                        ") must equal the number of searches (" +
                                        std::to_string(searches) + ")");
    }
    if (params.contains("norm_score")) {
      if (!params["norm_score"].is_boolean())
        Fail(kMilvusParameterInvalid, "norm_score must be true or false");
      out.normalize = params["norm_score"].get<bool>();
    }
  } else {
    Fail(kMilvusParameterInvalid,
         "rerank strategy \"" + strategy + "\" is not supported (use rrf or weighted)");
  }
  return out;
}

double Normalized(double d, const std::string& metric) {
  if (metric == "COSINE") return (1 + d) / 2;
  if (metric == "IP") return 0.5 + std::atan(d) / M_PI;
  return 1 - 2 * std::atan(d) / M_PI;  // a distance: smaller is better
}

// The fused hits of one query, best first, at most `limit`.
std::vector<Hit> Fuse(const std::vector<const std::vector<Hit>*>& lists, const Reranker& reranker,
                      const std::vector<std::string>& metrics, size_t limit) {
  std::map<int64_t, std::pair<double, const Hit*>> scores;
  for (size_t s = 0; s < lists.size(); ++s) {
    const std::vector<Hit>& list = *lists[s];
    for (size_t rank = 0; rank < list.size(); ++rank) {
      const Hit& hit = list[rank];
      double d = hit.distance;
      double score =
          reranker.rrf ? 1.0 / (reranker.k + double(rank + 1))
                       : reranker.weights[s] * (reranker.normalize ? Normalized(d, metrics[s]) : d);
      auto [it, fresh] = scores.try_emplace(hit.id, 0.0, &hit);
      it->second.first += score;
    }
  }
  std::vector<Hit> fused;
  for (const auto& [id, entry] : scores) {
    Hit hit = *entry.second;
    hit.distance = float(entry.first);
    fused.push_back(std::move(hit));
  }
  // Ties keep the smaller id first, so that answers are stable.
  std::stable_sort(fused.begin(), fused.end(),
                   [](const Hit& a, const Hit& b) { return a.distance > b.distance; });
  if (fused.size() > limit) fused.resize(limit);
  return fused;
}

}  // namespace

json MilvusHandlers::HybridSearch(Context& c, MilvusReply& reply) {
  c.AcceptOnly({"collectionName", "search", "rerank", "limit", "outputFields", "partitionNames"});
  std::shared_ptr<Collection> collection = c.LoadedCollection();
  MilvusView view = ViewOf(collection->schema());
  const json* searches = c.Given("search");
  if (searches == nullptr || !searches->is_array() || searches->empty())
    Fail(kMilvusMissingRequiredParameters, "hybrid_search needs a non-empty \"search\" array");
  Reranker reranker = ReadReranker(c, searches->size());
  int64_t limit = c.Int("limit", 100);
  if (limit < 1 || limit > 16384) Fail(kMilvusParameterInvalid, "limit must be 1..16384");
  std::string partitions = PartitionFilter(c, *collection, RequestedPartitions(c), true);
  std::vector<std::shared_ptr<Collection>> all = VectorCollections(c, collection);
  json requested = c.Given("outputFields") ? *c.Given("outputFields") : json();
  // Hits may come from any vector field's search: every vector asked for is read after.
  std::vector<std::shared_ptr<Collection>> vectors = TakeVectorOutputs(all, "", &requested);
  DynamicOutput dynamic;
  std::vector<std::vector<std::vector<Hit>>> results;  // [search][query]
  std::vector<std::string> metrics;                    // [search]
  for (size_t s = 0; s < searches->size(); ++s) {
    const json& search = (*searches)[s];
    if (!search.is_object()) Fail(kMilvusIncorrectParameterFormat, "each search must be an object");
    json body = search;
    for (const char* ignored : {"outputFields", "ignoreGrowing"}) body.erase(ignored);
    std::shared_ptr<Collection> searched =
        VectorCollection(all, body.contains("annsField") && body["annsField"].is_string()
                                  ? body["annsField"].get<std::string>()
                                  : "");
    const std::string metric = searched->index().metric_type;
    metrics.push_back(metric);
    if (body.contains("metricType")) {
      if (body["metricType"] != metric) {
        Fail(kMilvusParameterInvalid, "metric type not match: the collection's index uses " +
                                          metric + ", a search asks " + body["metricType"].dump());
      }
      body.erase("metricType");
    }
    for (const auto& [key, value] : body.items()) {
      static const std::set<std::string> known = {"data",  "annsField", "filter",
                                                  "limit", "offset",    "params"};
      if (!known.count(key))
        Fail(kMilvusParameterInvalid, "search parameter \"" + key + "\" is not supported");
    }
    SearchRequest request = SearchFromBody(c, body, s, *searched, partitions, &requested, &dynamic);
    results.push_back(ValueOrFail(searched->Search(request)));
    if (results.back().size() != results.front().size())
      Fail(kMilvusParameterInvalid, "every search must have the same number of query vectors");
  }
  std::vector<std::vector<Hit>> fused;
  for (size_t q = 0; q < results.front().size(); ++q) {
    std::vector<const std::vector<Hit>*> lists;
    for (const auto& result : results) lists.push_back(&result[q]);
    fused.push_back(Fuse(lists, reranker, metrics, size_t(limit)));
  }
  return SearchHitsJson(c, view, fused, dynamic, reply, vectors);
}

}  // namespace imgsearch::server
