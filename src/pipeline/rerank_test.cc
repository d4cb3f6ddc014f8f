// Query expansion against a brute-force reference on random vectors: the expanded query
// computed in double precision from scratch, every stored vector ranked against it.
#include "pipeline/rerank.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "pipeline/images.h"
#include "pipeline/search.h"
#include "test_util.h"

namespace imgsearch::pipeline {
namespace {

using testing::MakeTempDir;
using testing::ValueOrDie;

constexpr int kImages = 200;
constexpr int kDimension = 12;

struct RandomSet {
  std::unique_ptr<Database> db;
  std::shared_ptr<Collection> images;
  std::vector<BoundModel> models;
  std::map<std::string, std::vector<std::vector<float>>> vectors;  // model -> by id - 1
};

RandomSet MakeImages() {
  RandomSet set;
  set.db = ValueOrDie(Database::Open(MakeTempDir() + "/lib"));
  set.images = ValueOrDie(OpenImages(*set.db));
  std::vector<Row> rows;
  for (int64_t id = 1; id <= kImages; ++id) {
    ImageInfo image;
    image.id = id;
    image.path = "/photos/" + std::to_string(id) + ".jpg";
    image.hash = std::to_string(id);
    rows.push_back(ImageRow(image));
  }
  EXPECT_TRUE(set.images->Insert(rows).ok());
  return set;
}

// Random vectors in a few loose clusters (so that neighbours mean something); unit length
// unless `unit` is false (for COSINE, which must normalise them itself).
void AddFloatModel(RandomSet* set, const std::string& name, const std::string& metric,
                   unsigned seed, bool unit = true) {
  CollectionSchema schema;
  schema.name = name;
  schema.auto_id = false;
  schema.dimension = kDimension;
  ASSERT_TRUE(set->db->CreateCollection(schema, {"FLAT", metric}).ok());
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0, 1);
  std::uniform_real_distribution<float> length(0.5f, 3.0f);
  std::vector<Row> rows;
  for (int64_t id = 1; id <= kImages; ++id) {
    Row row;
    row.id = id;
    row.vector.resize(kDimension);
    for (float& v : row.vector) v = noise(rng);
    row.vector[id % 8] += 2.5f;
    double norm = 0;
    for (float v : row.vector) norm += double(v) * v;
    float scale = unit ? float(1 / std::sqrt(norm)) : length(rng);
    for (float& v : row.vector) v *= scale;
    set->vectors[name].push_back(row.vector);
    rows.push_back(std::move(row));
  }
  auto collection = ValueOrDie(set->db->GetCollection(name));
  ASSERT_TRUE(collection->Insert(rows).ok());
  BoundModel model;
  model.source = {name, name};
  model.collection = collection;
  set->models.push_back(std::move(model));
}

void AddBinaryModel(RandomSet* set, const std::string& name, unsigned seed) {
  CollectionSchema schema;
  schema.name = name;
  schema.auto_id = false;
  schema.dimension = 64;
  schema.vector_type = DataType::kBinaryVector;
  ASSERT_TRUE(set->db->CreateCollection(schema, {"BIN_FLAT", "HAMMING"}).ok());
  std::mt19937 rng(seed);
  std::vector<Row> rows;
  for (int64_t id = 1; id <= kImages; ++id) {
    Row row;
    row.id = id;
    for (int b = 0; b < 8; ++b) row.binary_vector.push_back(static_cast<uint8_t>(rng()));
    rows.push_back(std::move(row));
  }
  auto collection = ValueOrDie(set->db->GetCollection(name));
  ASSERT_TRUE(collection->Insert(rows).ok());
  BoundModel model;
  model.source = {name, name};
  model.collection = collection;
  set->models.push_back(std::move(model));
}

std::vector<double> Unit(const std::vector<float>& v) {
  double norm = 0;
  for (float x : v) norm += double(x) * x;
  std::vector<double> out;
  for (float x : v) out.push_back(x / std::sqrt(norm));
  return out;
}

// Larger is nearer: -squared distance for L2, the inner product for IP, cosine for COSINE.
double Closeness(const std::string& metric, const std::vector<double>& q,
                 const std::vector<float>& x) {
  double dot = 0, l2 = 0, norm = 0;
  for (size_t i = 0; i < q.size(); ++i) {
    dot += q[i] * x[i], l2 += (q[i] - x[i]) * (q[i] - x[i]), norm += double(x[i]) * x[i];
  }
  if (metric == "L2") return -l2;
  if (metric == "IP") return dot;
  return dot / std::sqrt(norm);
}

// Every id but `self`, nearest to `q` first.
std::vector<int64_t> BruteForce(const std::vector<std::vector<float>>& vectors,
                                const std::string& metric, const std::vector<double>& q,
                                int64_t self) {
  std::vector<std::pair<double, int64_t>> scored;
  for (int64_t id = 1; id <= kImages; ++id) {
    if (id != self) scored.emplace_back(-Closeness(metric, q, vectors[id - 1]), id);
  }
  std::sort(scored.begin(), scored.end());
  std::vector<int64_t> ids;
  for (const auto& s : scored) ids.push_back(s.second);
  return ids;
}

// The reference expansion: q + sum of max(0, similarity)^alpha x (at unit length for
// COSINE; similarity 1 - |q - x|^2 / 2 for L2), normalised.
std::vector<double> ReferenceExpansion(const std::vector<std::vector<float>>& vectors,
                                       const std::string& metric, int64_t query,
                                       const std::vector<int64_t>& neighbours, double alpha) {
  const std::vector<float>& raw = vectors[query - 1];
  std::vector<double> q =
      metric == "COSINE" ? Unit(raw) : std::vector<double>(raw.begin(), raw.end());
  std::vector<double> sum = q;
  for (int64_t n : neighbours) {
    std::vector<double> x = metric == "COSINE"
                                ? Unit(vectors[n - 1])
                                : std::vector<double>(vectors[n - 1].begin(), vectors[n - 1].end());
    std::vector<float> xf(x.begin(), x.end());
    double similarity = metric == "L2" ? 1 + Closeness("L2", q, xf) / 2 : Closeness("IP", q, xf);
    double weight = alpha == 0 ? 1 : std::pow(std::max(0.0, similarity), alpha);
    for (size_t i = 0; i < sum.size(); ++i) sum[i] += weight * x[i];
  }
  std::vector<float> as_float(sum.begin(), sum.end());
  return Unit(as_float);
}

std::vector<int64_t> HitIds(const ModelResults& results) {
  std::vector<int64_t> ids;
  for (const Hit& hit : results.hits) ids.push_back(hit.id);
  return ids;
}

std::vector<int64_t> Prefix(std::vector<int64_t> ids, size_t n) {
  ids.resize(std::min(n, ids.size()));
  return ids;
}

TEST(RerankTest, ParsesItsNotationAndRefusesAnythingElse) {
  EXPECT_EQ(ValueOrDie(ParseRerank("off")), Rerank{});
  EXPECT_EQ(ValueOrDie(ParseRerank("qe")), (Rerank{kDefaultQe, kDefaultAlpha}));
  EXPECT_EQ(ValueOrDie(ParseRerank("qe:7")), (Rerank{7, kDefaultAlpha}));
  EXPECT_EQ(ValueOrDie(ParseRerank("qe:2,alpha=0")), (Rerank{2, 0}));
  EXPECT_EQ(ValueOrDie(ParseRerank("qe,alpha=1.5")), (Rerank{kDefaultQe, 1.5}));
  Rerank back = ValueOrDie(ParseRerank(Rerank{3, 0.5}.ToString()));
  EXPECT_EQ(back, (Rerank{3, 0.5}));
  for (const char* bad : {"", "qe:", "qe:0", "qe:101", "qe:x", "qe:2,", "qe:2,beta=1",
                          "qe:2,alpha=-1", "qe:2,alpha=nan", "dba", "qe 2"}) {
    EXPECT_EQ(ParseRerank(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

// Each float metric: the model's own top N (the query left out), weighted by
// similarity^alpha, expanded and searched again, as the brute-force reference ranks.
TEST(RerankTest, QueryExpansionOfOneModelMatchesBruteForce) {
  for (const std::string metric : {"L2", "IP", "COSINE"}) {
    RandomSet set = MakeImages();
    AddFloatModel(&set, "m", metric, 11, /*unit=*/metric != "COSINE");
    const auto& vectors = set.vectors["m"];
    for (const Rerank& rerank : {Rerank{1, 3}, Rerank{5, 3}, Rerank{4, 0}, Rerank{10, 1.5}}) {
      for (int64_t id : {1, 17, 90, 200}) {
        Query query;
        query.id = id;
        SearchOptions options;
        options.k = 20;
        options.exclude_self = true;
        options.rerank = rerank.ToString();
        SearchResults results = ValueOrDie(SearchModels(set.models, *set.images, query, options));
        EXPECT_EQ(results.rerank, rerank.ToString());
        std::vector<double> q(vectors[id - 1].begin(), vectors[id - 1].end());
        if (metric == "COSINE") q = Unit(vectors[id - 1]);
        std::vector<int64_t> first = Prefix(BruteForce(vectors, metric, q, id), rerank.qe);
        std::vector<double> expanded = ReferenceExpansion(vectors, metric, id, first, rerank.alpha);
        std::vector<int64_t> want = Prefix(BruteForce(vectors, metric, expanded, id), 20);
        EXPECT_EQ(HitIds(results.models[0]), want)
            << metric << " " << rerank.ToString() << " query " << id;
        // The reported distances are to the expanded query.
        const Hit& top = results.models[0].hits[0];
        std::vector<float> hit = vectors[top.id - 1];
        if (metric == "COSINE") {
          std::vector<double> unit = Unit(hit);
          hit.assign(unit.begin(), unit.end());
        }
        double closeness = Closeness(metric == "COSINE" ? "IP" : metric, expanded, hit);
        double reported = metric == "L2" ? -top.distance : top.distance;
        EXPECT_NEAR(reported, closeness, 1e-4) << metric;
      }
    }
  }
}

// Fused, every float model expands with the top N of the first fused ranking (the one a
// search without re-ranking returns); a binary model keeps its answer.
TEST(RerankTest, FusedExpansionFollowsTheFusedTopAndLeavesBinaryModelsAlone) {
  RandomSet set = MakeImages();
  AddFloatModel(&set, "a", "L2", 21);
  AddFloatModel(&set, "b", "IP", 22);
  AddBinaryModel(&set, "hash", 23);
  for (int64_t id : {3, 50, 151}) {
    Query query;
    query.id = id;
    SearchOptions plain;
    plain.k = 10;
    plain.exclude_self = true;
    plain.fuse = "rrf";
    SearchResults before = ValueOrDie(SearchModels(set.models, *set.images, query, plain));
    SearchOptions reranked = plain;
    reranked.rerank = "qe:3,alpha=3";
    SearchResults after = ValueOrDie(SearchModels(set.models, *set.images, query, reranked));
    std::vector<int64_t> fused_top;
    for (size_t i = 0; i < 3; ++i) fused_top.push_back(before.fused[i].id);
    for (size_t m = 0; m < 2; ++m) {
      const std::string name = set.models[m].source.name, metric = m == 0 ? "L2" : "IP";
      const auto& vectors = set.vectors[name];
      std::vector<double> expanded = ReferenceExpansion(vectors, metric, id, fused_top, 3);
      EXPECT_EQ(HitIds(after.models[m]), Prefix(BruteForce(vectors, metric, expanded, id), 10))
          << name << " query " << id;
    }
    EXPECT_EQ(HitIds(after.models[2]), HitIds(before.models[2])) << "binary model changed";
    for (size_t i = 0; i < after.models[2].hits.size(); ++i)
      EXPECT_EQ(after.models[2].hits[i].distance, before.models[2].hits[i].distance);
    ASSERT_EQ(after.fused.size(), 10u);
  }
}

// Re-ranking off ("" or "off") answers as exact search always did: every model's plain
// brute-force ranking, and the same fused ranking either way.
TEST(RerankTest, OffReproducesThePlainAnswers) {
  RandomSet set = MakeImages();
  AddFloatModel(&set, "a", "L2", 31);
  AddFloatModel(&set, "b", "COSINE", 32, /*unit=*/false);
  for (int64_t id : {5, 77}) {
    Query query;
    query.id = id;
    SearchOptions options;
    options.k = 15;
    options.exclude_self = true;
    options.fuse = "rrf";
    SearchResults unset = ValueOrDie(SearchModels(set.models, *set.images, query, options));
    options.rerank = "off";
    SearchResults off = ValueOrDie(SearchModels(set.models, *set.images, query, options));
    EXPECT_TRUE(off.rerank.empty());
    EXPECT_EQ(off.ToJson("q"), unset.ToJson("q"));
    const std::vector<std::string> metrics = {"L2", "COSINE"};
    for (size_t m = 0; m < 2; ++m) {
      const auto& vectors = set.vectors[set.models[m].source.name];
      std::vector<double> q = Unit(vectors[id - 1]);
      if (metrics[m] == "L2") q.assign(vectors[id - 1].begin(), vectors[id - 1].end());
      EXPECT_EQ(HitIds(off.models[m]), Prefix(BruteForce(vectors, metrics[m], q, id), 15));
    }
  }
}

// Several re-rankings from one first search (what tune does for its candidates) answer
// exactly as separate searches do, each its own: hits, distances and the fused ranking,
// alone and fused, with a binary model beside.
TEST(RerankTest, SeveralRerankingsFromOneFirstSearchAnswerAsSeparateSearches) {
  RandomSet set = MakeImages();
  AddFloatModel(&set, "a", "L2", 41);
  AddFloatModel(&set, "b", "COSINE", 42, /*unit=*/false);
  AddBinaryModel(&set, "hash", 43);
  const std::vector<std::string> reranks = {"qe:3,alpha=3", "off", "qe:1,alpha=0", "",
                                            "qe:10,alpha=5"};
  for (const std::string fuse : {"", "rrf"}) {
    for (int64_t id : {9, 120}) {
      Query query;
      query.id = id;
      SearchOptions options;
      options.k = 12;
      options.exclude_self = true;
      options.fuse = fuse;
      std::vector<SearchResults> together =
          ValueOrDie(SearchModelsReranked(set.models, *set.images, query, options, reranks));
      ASSERT_EQ(together.size(), reranks.size());
      for (size_t r = 0; r < reranks.size(); ++r) {
        options.rerank = reranks[r];
        SearchResults alone = ValueOrDie(SearchModels(set.models, *set.images, query, options));
        EXPECT_EQ(together[r].ToJson("q"), alone.ToJson("q"))
            << "fuse \"" << fuse << "\", query " << id << ", " << reranks[r];
        EXPECT_EQ(together[r].rerank, alone.rerank);
      }
      // The re-rankings differ from each other (else the comparison above shows nothing).
      EXPECT_NE(together[0].ToJson("q"), together[1].ToJson("q"));
      EXPECT_NE(together[0].ToJson("q"), together[4].ToJson("q"));
    }
  }
}

}  // namespace
}  // namespace imgsearch::pipeline
