// Every index against exact search, serialisation round trips, and damaged payloads.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <random>
#include <set>
#include <thread>

#include "index/faiss_call.h"
#include "index/flat_index.h"
#include "index/index_factory.h"
#include "test_util.h"

namespace imgsearch::index {
namespace {

using imgsearch::testing::ValueOrDie;
using json = nlohmann::json;

// Vectors drawn around 200 random centres, like real embeddings (which cluster), then
// normalised for inner product metrics.
std::vector<float> ClusteredVectors(size_t n, size_t dim, uint32_t seed, bool normalise) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist;
  std::mt19937 centre_rng(99);  // the same centres for data and queries
  std::vector<float> centres(200 * dim);
  for (float& c : centres) c = dist(centre_rng) * 3;
  std::vector<float> out(n * dim);
  for (size_t i = 0; i < n; ++i) {
    size_t c = rng() % 200;
    double norm = 0;
    for (size_t d = 0; d < dim; ++d) {
      out[i * dim + d] = centres[c * dim + d] + dist(rng);
      norm += out[i * dim + d] * out[i * dim + d];
    }
    if (normalise) {
      for (size_t d = 0; d < dim; ++d) out[i * dim + d] /= static_cast<float>(std::sqrt(norm));
    }
  }
  return out;
}

// Binary codes around 100 random centre codes with ~8% of the bits flipped, as
// perceptual hashes of similar images are.
std::vector<uint8_t> ClusteredBits(size_t n, size_t bytes, uint32_t seed) {
  std::mt19937 rng(seed), centre_rng(77);
  std::vector<uint8_t> centres(100 * bytes), out(n * bytes);
  for (auto& b : centres) b = static_cast<uint8_t>(centre_rng());
  for (size_t i = 0; i < n; ++i) {
    size_t c = rng() % 100;
    for (size_t j = 0; j < bytes; ++j) {
      uint8_t flips = 0;
      for (int bit = 0; bit < 8; ++bit) flips |= (rng() % 12 == 0) << bit;
      out[i * bytes + j] = centres[c * bytes + j] ^ flips;
    }
  }
  return out;
}

std::vector<int64_t> Labels(size_t n) {
  std::vector<int64_t> labels(n);
  for (size_t i = 0; i < n; ++i) labels[i] = static_cast<int64_t>(i);
  return labels;
}

// Share of the exact top-k found among the index's top `fetch` (= k unless the index is
// lossy, when the store fetches 4k candidates and re-ranks them exactly).
double RecallAgainstFlat(const Index& index, const Index& flat, const void* queries, size_t nq,
                         size_t stride, size_t k, size_t fetch = 0) {
  size_t hits = 0;
  for (size_t q = 0; q < nq; ++q) {
    const auto* query = static_cast<const uint8_t*>(queries) + q * stride;
    auto truth = ValueOrDie(flat.Search(query, k, {}, {}));
    auto got = ValueOrDie(index.Search(query, fetch > 0 ? fetch : k, {}, {}));
    std::set<int64_t> want;
    for (const auto& n : truth) want.insert(n.label);
    for (const auto& n : got) hits += want.count(n.label);
  }
  return static_cast<double>(hits) / static_cast<double>(nq * k);
}

struct RecallCase {
  const char* type;
  const char* metric;
  json params;
  size_t n = 20000;  // vectors indexed
};

class IndexRecall : public ::testing::TestWithParam<RecallCase> {};

// recall@10 >= 0.95 at default search parameters on 20k vectors (5k for the many HNSW_SQ
// cases, whose graph code HNSW already covers at 20k).
TEST_P(IndexRecall, AtLeast95PercentOfExactTop10) {
  const RecallCase& c = GetParam();
  const size_t n = c.n, nq = 100, k = 10, dim = 64;
  IndexDescription d{c.type, *ParseMetric(c.metric), c.params};
  bool binary = IsBinaryMetric(d.metric);
  std::unique_ptr<Index> index = ValueOrDie(MakeIndex(d, binary, binary ? 256 : dim));
  std::unique_ptr<Index> flat =
      ValueOrDie(MakeIndex({"FLAT", d.metric, json::object()}, binary, binary ? 256 : dim));
  auto labels = Labels(n);
  if (binary) {
    auto data = ClusteredBits(n, 32, 1), queries = ClusteredBits(nq, 32, 2);
    ASSERT_TRUE(index->Add(n, labels.data(), data.data()).ok());
    ASSERT_TRUE(flat->Add(n, labels.data(), data.data()).ok());
    double recall = RecallAgainstFlat(*index, *flat, queries.data(), nq, 32, k);
    std::printf("%s %s recall@10 = %.3f\n", c.type, c.metric, recall);
    EXPECT_GE(recall, 0.95);
    return;
  }
  bool normalise = d.metric != Metric::kL2;
  auto data = ClusteredVectors(n, dim, 1, normalise),
       queries = ClusteredVectors(nq, dim, 2, normalise);
  ASSERT_TRUE(index->Add(n, labels.data(), data.data()).ok());
  ASSERT_TRUE(flat->Add(n, labels.data(), data.data()).ok());
  EXPECT_EQ(index->size(), n);
  size_t fetch = IsLossy(c.type) ? 4 * k : k;
  double recall = RecallAgainstFlat(*index, *flat, queries.data(), nq, dim * 4, k, fetch);
  std::printf("%s %s recall@10 (of top %zu) = %.3f\n", c.type, c.metric, fetch, recall);
  EXPECT_GE(recall, 0.95);
}

INSTANTIATE_TEST_SUITE_P(
    AllIndexes, IndexRecall,
    ::testing::Values(
        RecallCase{"HNSW", "L2", json{{"M", 16}, {"efConstruction", 200}}},
        RecallCase{"HNSW", "IP", json::object()},
        RecallCase{"IVF_FLAT", "L2", json{{"nlist", 128}}},
        RecallCase{"IVF_FLAT", "COSINE", json{{"nlist", 64}}},
        RecallCase{"IVF_SQ8", "L2", json{{"nlist", 128}}},
        RecallCase{"IVF_PQ", "L2", json{{"nlist", 64}, {"m", 32}, {"nbits", 6}}},
        // HNSW_SQ: every sq_type with every float metric; refine on in some.
        RecallCase{"HNSW_SQ", "L2", json{{"sq_type", "SQ8"}}, 5000},
        RecallCase{"HNSW_SQ", "IP", json{{"sq_type", "SQ8"}, {"refine", true}}, 5000},
        RecallCase{"HNSW_SQ", "COSINE", json{{"sq_type", "SQ8"}}, 5000},
        RecallCase{"HNSW_SQ", "L2", json{{"sq_type", "FP16"}}, 5000},
        RecallCase{"HNSW_SQ", "IP", json{{"sq_type", "FP16"}}, 5000},
        RecallCase{"HNSW_SQ", "COSINE",
                   json{{"sq_type", "FP16"}, {"refine", true}, {"refine_k", 2}}, 5000},
        RecallCase{"HNSW_SQ", "L2",
                   json{{"sq_type", "BF16"}, {"refine", "true"}, {"refine_type", "FP16"}}, 5000},
        RecallCase{"HNSW_SQ", "IP", json{{"sq_type", "BF16"}}, 5000},
        RecallCase{"HNSW_SQ", "COSINE", json{{"sq_type", "BF16"}}, 5000},
        RecallCase{"BIN_FLAT", "HAMMING", json::object()},
        RecallCase{"BIN_FLAT", "JACCARD", json::object()},
        RecallCase{"BIN_IVF_FLAT", "HAMMING", json{{"nlist", 128}}}),
    [](const auto& info) {
      std::string name = std::string(info.param.type) + "_" + info.param.metric;
      if (info.param.params.contains("sq_type"))
        name += "_" + info.param.params["sq_type"].template get<std::string>();
      if (info.param.params.contains("refine")) name += "_refine";
      return name;
    });

// FLAT must equal a sort of all distances computed one by one.
TEST(IndexTest, FlatIsExact) {
  const size_t n = 500, dim = 33;
  auto data = ClusteredVectors(n, dim, 3, false), query = ClusteredVectors(1, dim, 4, false);
  FlatIndex flat(Metric::kL2, dim);
  auto labels = Labels(n);
  ASSERT_TRUE(flat.Add(n, labels.data(), data.data()).ok());
  std::vector<Neighbor> all;
  for (size_t i = 0; i < n; ++i)
    all.push_back({int64_t(i), scalar::L2Squared(query.data(), &data[i * dim], dim)});
  std::sort(all.begin(), all.end());
  auto got = ValueOrDie(flat.Search(query.data(), 20, {}, {}));
  ASSERT_EQ(got.size(), 20u);
  for (size_t i = 0; i < 20; ++i) {
    EXPECT_EQ(got[i].label, all[i].label);
    EXPECT_NEAR(got[i].distance, all[i].distance, 1e-3);
  }
}

// Vectors of 1 MB put four in each of FLAT's storage blocks: adds, removals (which move
// the last vector into the hole and free emptied blocks), scans and a round trip across
// blocks must all agree with distances computed one by one.
TEST(IndexTest, FlatStaysExactAcrossStorageBlocks) {
  const size_t n = 11, dim = size_t(1) << 18;
  std::mt19937 rng(13);
  std::normal_distribution<float> normal;
  std::vector<float> data(n * dim), query(dim);
  for (float& x : data) x = normal(rng);
  for (float& x : query) x = normal(rng);
  FlatIndex flat(Metric::kL2, dim);
  auto labels = Labels(n);
  ASSERT_TRUE(flat.Add(n, labels.data(), data.data()).ok());
  for (int64_t gone : {2, 10, 9, 0}) flat.Remove(gone);
  std::string bytes;
  ASSERT_TRUE(flat.Serialize(&bytes).ok());
  FlatIndex loaded(Metric::kL2, dim), in_place(Metric::kL2, dim);
  ASSERT_TRUE(loaded.Deserialize(bytes).ok());
  // In place: the payload's whole blocks are used where they lie; a removal copies the
  // block it writes to and never touches the payload.
  auto payload = std::make_shared<const std::string>(bytes);
  ASSERT_TRUE(in_place.DeserializeInPlace(*payload, payload).ok());
  in_place.Remove(3);
  ASSERT_TRUE(in_place.Add(1, &labels[3], &data[3 * dim]).ok());
  EXPECT_EQ(*payload, bytes);
  EXPECT_FALSE(
      in_place.DeserializeInPlace(std::string_view(bytes).substr(0, bytes.size() - 1), payload)
          .ok());
  ASSERT_TRUE(in_place.DeserializeInPlace(*payload, payload).ok());
  in_place.Remove(3);
  ASSERT_TRUE(in_place.Add(1, &labels[3], &data[3 * dim]).ok());
  std::vector<Neighbor> all;
  for (int64_t label : {1, 3, 4, 5, 6, 7, 8})
    all.push_back({label, scalar::L2Squared(query.data(), &data[size_t(label) * dim], dim)});
  std::sort(all.begin(), all.end());
  for (const FlatIndex* index : {&flat, &loaded, &in_place}) {
    auto got = ValueOrDie(index->Search(query.data(), 20, {}, {}));
    ASSERT_EQ(got.size(), all.size());
    for (size_t i = 0; i < all.size(); ++i) {
      EXPECT_EQ(got[i].label, all[i].label);
      EXPECT_NEAR(got[i].distance, all[i].distance, 1e-3 * all[i].distance);
    }
  }
}

// A frozen FLAT index shares its blocks: its bytes are Serialize's, and stay so while the
// index goes on removing (which copies a shared block first) and adding.
TEST(IndexTest, FrozenFlatKeepsItsBytesWhileTheIndexChanges) {
  const size_t n = 11, dim = size_t(1) << 18;  // four vectors per block
  std::mt19937 rng(17);
  std::normal_distribution<float> normal;
  std::vector<float> data(n * dim);
  for (float& x : data) x = normal(rng);
  FlatIndex flat(Metric::kL2, dim);
  auto labels = Labels(n);
  ASSERT_TRUE(flat.Add(n - 1, labels.data(), data.data()).ok());
  std::string bytes;
  ASSERT_TRUE(flat.Serialize(&bytes).ok());
  auto frozen = ValueOrDie(flat.Freeze());
  auto joined = [&] {
    std::string all;
    for (std::string_view piece : frozen->pieces()) all.append(piece);
    return all;
  };
  EXPECT_EQ(joined(), bytes);
  for (int64_t gone : {1, 6}) flat.Remove(gone);
  ASSERT_TRUE(flat.Add(1, &labels[n - 1], &data[(n - 1) * dim]).ok());
  EXPECT_EQ(joined(), bytes);
  FlatIndex loaded(Metric::kL2, dim);
  ASSERT_TRUE(loaded.Deserialize(joined()).ok());
  EXPECT_EQ(loaded.size(), n - 1);
}

// Filters, removals and ranges, for every index type.
TEST(IndexTest, FiltersRemovalsAndRangesAreHonoured) {
  const size_t n = 3000, dim = 16;
  auto data = ClusteredVectors(n, dim, 5, false), query = ClusteredVectors(1, dim, 6, false);
  auto labels = Labels(n);
  std::vector<uint8_t> even(n);
  for (size_t i = 0; i < n; i += 2) even[i] = 1;
  for (const char* type : {"FLAT", "HNSW", "HNSW_SQ", "IVF_FLAT", "IVF_SQ8"}) {
    auto index = ValueOrDie(MakeIndex({type, Metric::kL2, json::object()}, false, dim));
    ASSERT_TRUE(index->Add(n, labels.data(), data.data()).ok());
    auto nearest = ValueOrDie(index->Search(query.data(), 1, {}, {}));
    ASSERT_EQ(nearest.size(), 1u);
    index->Remove(nearest[0].label);
    EXPECT_EQ(index->size(), n - 1) << type;
    for (const auto& r : ValueOrDie(index->Search(query.data(), 10, {}, {})))
      EXPECT_NE(r.label, nearest[0].label) << type;
    LabelFilter filter{&even};
    auto filtered = ValueOrDie(index->Search(query.data(), 10, {}, filter));
    EXPECT_EQ(filtered.size(), 10u) << type;
    for (const auto& r : filtered) EXPECT_EQ(r.label % 2, 0) << type;
    SearchParams range;
    auto unbounded = ValueOrDie(index->Search(query.data(), 10, {}, {}));
    range.min_distance = unbounded[3].distance;  // skip the three nearest
    range.max_distance = unbounded[8].distance;
    for (const auto& r : ValueOrDie(index->Search(query.data(), 10, range, {}))) {
      EXPECT_GE(r.distance, range.min_distance) << type;
      EXPECT_LT(r.distance, range.max_distance) << type;
    }
  }
}

std::vector<float> Distances(const std::vector<Neighbor>& found) {
  std::vector<float> out;
  for (const Neighbor& n : found) out.push_back(n.distance);
  return out;
}

// Regression: BIN_IVF_FLAT searches wrote nprobe into the FAISS index they share, so one
// search could run with another's nprobe (and ThreadSanitizer saw a data race).
TEST(IndexTest, BinaryIvfSearchesKeepTheirOwnNprobeWhenConcurrent) {
  const size_t n = 4000, bytes = 32, nq = 20, nlist = 64;
  auto data = ClusteredBits(n, bytes, 11), queries = ClusteredBits(nq, bytes, 12);
  auto labels = Labels(n);
  IndexDescription d{"BIN_IVF_FLAT", Metric::kHamming, json{{"nlist", nlist}}};
  auto index = ValueOrDie(MakeIndex(d, true, bytes * 8));
  auto flat =
      ValueOrDie(MakeIndex({"BIN_FLAT", Metric::kHamming, json::object()}, true, bytes * 8));
  ASSERT_TRUE(index->Add(n, labels.data(), data.data()).ok());
  ASSERT_TRUE(flat->Add(n, labels.data(), data.data()).ok());
  SearchParams narrow, wide;
  narrow.nprobe = 1;
  wide.nprobe = static_cast<int>(nlist);
  std::vector<std::vector<float>> want_narrow(nq), want_wide(nq);
  bool nprobe_matters = false;
  for (size_t q = 0; q < nq; ++q) {
    const uint8_t* query = &queries[q * bytes];
    want_narrow[q] = Distances(ValueOrDie(index->Search(query, 10, narrow, {})));
    want_wide[q] = Distances(ValueOrDie(index->Search(query, 10, wide, {})));
    // Every list scanned: the exact answer.
    EXPECT_EQ(want_wide[q], Distances(ValueOrDie(flat->Search(query, 10, {}, {}))));
    nprobe_matters |= want_narrow[q] != want_wide[q];
  }
  ASSERT_TRUE(nprobe_matters);
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const SearchParams& params = t % 2 == 0 ? narrow : wide;
      const auto& want = t % 2 == 0 ? want_narrow : want_wide;
      for (int round = 0; round < 100; ++round) {
        for (size_t q = 0; q < nq; ++q) {
          if (Distances(ValueOrDie(index->Search(&queries[q * bytes], 10, params, {}))) != want[q])
            ++mismatches;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches.load(), 0);
}

// Save, load, and get the same answers; damaged bytes are errors, never crashes.
TEST(IndexTest, SerialisationRoundTripsAndRejectsDamage) {
  const size_t n = 3000, dim = 16;
  auto data = ClusteredVectors(n, dim, 7, false), query = ClusteredVectors(1, dim, 8, false);
  auto labels = Labels(n);
  for (const char* type : {"FLAT", "HNSW", "HNSW_SQ", "IVF_FLAT", "IVF_PQ"}) {
    json params = std::string(type) == "IVF_PQ"    ? json{{"m", 4}, {"nlist", 16}}
                  : std::string(type) == "HNSW_SQ" ? json{{"sq_type", "SQ8"}, {"refine", true}}
                                                   : json::object();
    auto index = ValueOrDie(MakeIndex({type, Metric::kL2, params}, false, dim));
    ASSERT_TRUE(index->Add(n, labels.data(), data.data()).ok());
    index->Remove(5);
    std::string bytes;
    ASSERT_TRUE(index->Serialize(&bytes).ok());
    auto loaded = ValueOrDie(MakeIndex({type, Metric::kL2, params}, false, dim));
    ASSERT_TRUE(loaded->Deserialize(bytes).ok()) << type;
    EXPECT_EQ(loaded->size(), index->size()) << type;
    auto a = ValueOrDie(index->Search(query.data(), 10, {}, {})),
         b = ValueOrDie(loaded->Search(query.data(), 10, {}, {}));
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].label, b[i].label) << type;
    for (size_t cut : {size_t(0), size_t(7), bytes.size() / 2, bytes.size() - 1}) {
      auto damaged = ValueOrDie(MakeIndex({type, Metric::kL2, params}, false, dim));
      EXPECT_FALSE(damaged->Deserialize(std::string_view(bytes).substr(0, cut)).ok())
          << type << " " << cut;
    }
  }
}

// A FAISS snapshot is only as trustworthy as its bytes: one of another kind or metric is
// refused at load, not searched (an unsupported metric ended the process inside FAISS).
TEST(IndexTest, IvfRefusesASnapshotOfAnotherKindOrMetric) {
  const size_t n = 3000, dim = 16;
  auto data = ClusteredVectors(n, dim, 7, false);
  auto labels = Labels(n);
  json params{{"nlist", 16}};
  auto l2 = ValueOrDie(MakeIndex({"IVF_FLAT", Metric::kL2, params}, false, dim));
  ASSERT_TRUE(l2->Add(n, labels.data(), data.data()).ok());
  std::string bytes;
  ASSERT_TRUE(l2->Serialize(&bytes).ok());
  auto same = ValueOrDie(MakeIndex({"IVF_FLAT", Metric::kL2, params}, false, dim));
  EXPECT_TRUE(same->Deserialize(bytes).ok());
  auto inner_product = ValueOrDie(MakeIndex({"IVF_FLAT", Metric::kIP, params}, false, dim));
  Status metric = inner_product->Deserialize(bytes);
  EXPECT_EQ(metric.code(), StatusCode::kCorruption);
  EXPECT_NE(metric.message().find("another metric"), std::string::npos) << metric.message();
  auto sq8 = ValueOrDie(MakeIndex({"IVF_SQ8", Metric::kL2, params}, false, dim));
  Status kind = sq8->Deserialize(bytes);
  EXPECT_EQ(kind.code(), StatusCode::kCorruption);
  EXPECT_NE(kind.message().find("IVF_SQ8 snapshot"), std::string::npos) << kind.message();
}

// What FAISS throws becomes a Status naming the index and the call: a failed search is
// an error, not an empty answer.
TEST(IndexTest, FaissExceptionsBecomeStatusesWithContext) {
  Status thrown = CallFaiss("IVF_PQ", "search", [] { throw faiss::FaissException("bad k"); });
  EXPECT_EQ(thrown.code(), StatusCode::kInternal);
  EXPECT_NE(thrown.message().find("IVF_PQ search failed in FAISS: bad k"), std::string::npos)
      << thrown.message();
  Status memory = CallFaiss("BIN_IVF_FLAT", "training", [] { throw std::bad_alloc(); });
  EXPECT_EQ(memory.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(memory.message().find("BIN_IVF_FLAT training"), std::string::npos);
  EXPECT_TRUE(CallFaiss("IVF_FLAT", "add", [] {}).ok());
}

TEST(IndexTest, TrainedIvfAnswersKZeroWithNothing) {
  const size_t n = 3000, dim = 16;
  auto data = ClusteredVectors(n, dim, 7, false);
  auto labels = Labels(n);
  auto index = ValueOrDie(MakeIndex({"IVF_FLAT", Metric::kL2, json{{"nlist", 16}}}, false, dim));
  ASSERT_TRUE(index->Add(n, labels.data(), data.data()).ok());
  EXPECT_TRUE(ValueOrDie(index->Search(data.data(), 0, {}, {})).empty());
}

TEST(IndexTest, HnswRejectsLinksThatPointNowhere) {
  const size_t n = 200, dim = 8;
  auto data = ClusteredVectors(n, dim, 9, false);
  auto labels = Labels(n);
  auto index = ValueOrDie(MakeIndex({"HNSW", Metric::kL2, json::object()}, false, dim));
  ASSERT_TRUE(index->Add(n, labels.data(), data.data()).ok());
  std::string bytes;
  ASSERT_TRUE(index->Serialize(&bytes).ok());
  std::mt19937 rng(3);
  int rejected = 0;
  for (int round = 0; round < 200; ++round) {
    std::string damaged = bytes;
    size_t at = bytes.size() - 1 - rng() % (bytes.size() / 3);  // inside the links
    damaged[at] = static_cast<char>(0xff);
    auto loaded = ValueOrDie(MakeIndex({"HNSW", Metric::kL2, json::object()}, false, dim));
    if (!loaded->Deserialize(damaged).ok()) {
      ++rejected;
      continue;
    }
    (void)loaded->Search(data.data(), 5, {}, {});  // accepted damage: an answer or an error
  }
  EXPECT_GT(rejected, 0);
}

TEST(IndexTest, FactoryRejectsWrongCombinations) {
  struct Case {
    const char* type;
    const char* metric;
    bool binary;
    json params;
    const char* expect;
  };
  for (const Case& c :
       {Case{"HNSW", "HAMMING", false, json::object(), "does not apply to float"},
        Case{"FLAT", "L2", true, json::object(), "does not apply to binary"},
        Case{"IVF_PQ", "L2", false, json{{"m", 7}}, "must divide the dimension 64"},
        Case{"IVF_PQ", "L2", false, json::object(), "needs the parameter m"},
        Case{"HNSW", "L2", false, json{{"M", 1}}, "must be in [2, 2048]"},
        Case{"HNSW", "L2", false, json{{"nlist", 8}}, "not supported by HNSW"},
        Case{"IVF_FLAT", "L2", false, json{{"nlist", "lots"}}, "must be an integer"},
        Case{"DISKANN", "L2", false, json::object(), "not available for float"},
        Case{"BIN_IVF_FLAT", "JACCARD", true, json::object(), "HAMMING metric only"},
        Case{"HNSW_SQ", "L2", false, json{{"sq_type", "SQ6"}}, "use SQ8, FP16, BF16"},
        Case{"HNSW_SQ", "L2", false, json{{"sq_type", "FP32"}}, "FP32 is plain HNSW"},
        Case{"HNSW_SQ", "L2", false, json{{"refine_type", "FP32"}}, "need refine: true"},
        Case{"HNSW_SQ", "L2", false,
             json{{"sq_type", "FP16"}, {"refine", true}, {"refine_type", "BF16"}},
             "must keep more than sq_type FP16"},
        Case{"HNSW_SQ", "L2", false, json{{"refine", "yes"}}, "must be true or false"},
        Case{"HNSW_SQ", "L2", false, json{{"refine", true}, {"refine_k", 0.5}},
             "refine_k must be in"},
        Case{"HNSW_SQ", "HAMMING", true, json::object(), "not available for binary"}}) {
    auto index =
        MakeIndex({c.type, *ParseMetric(c.metric), c.params}, c.binary, c.binary ? 64 : 64);
    ASSERT_FALSE(index.ok()) << c.type;
    EXPECT_NE(index.status().message().find(c.expect), std::string::npos)
        << index.status().message();
  }
  EXPECT_TRUE(MakeIndex({"IVF_FLAT", Metric::kL2, json{{"nlist", "64"}}}, false, 64).ok());
  EXPECT_EQ((*ValidateIndexDescription({"AUTOINDEX", Metric::kL2, json::object()}, false, 8)).type,
            "HNSW");
  EXPECT_FALSE(ParseSearchParams(json{{"efSearch", 5}}).ok());
  EXPECT_EQ(ParseSearchParams(json{{"ef", 77}})->ef, 77);
}

}  // namespace
}  // namespace imgsearch::index
