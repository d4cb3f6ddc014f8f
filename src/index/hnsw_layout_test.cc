// HNSW's payload layouts: used in place it answers as a full load does and changes only a
// copy of its own; the unpadded layouts of earlier versions are still read; damaged links
// are bounded while in place and refused before the first change.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "index/index_factory.h"
#include "test_util.h"

namespace imgsearch::index {
namespace {

using imgsearch::testing::ValueOrDie;
using json = nlohmann::json;

std::vector<float> RandomVectors(size_t n, size_t dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> out(n * dim);
  for (float& x : out) x = normal(rng);
  return out;
}

std::vector<int64_t> LabelsFrom(int64_t first, size_t n) {
  std::vector<int64_t> labels(n);
  for (size_t i = 0; i < n; ++i) labels[i] = first + static_cast<int64_t>(i);
  return labels;
}

// Where layout 2's arrays lie (doc/format.md): a 96-byte header, then each array at the
// next multiple of 64. code_size and refine_size are bytes per vector.
struct Layout2 {
  uint64_t header[10];  // version, code, refine, refine_code, dim, m, count, levels, entry, upper
  struct Span {
    size_t offset, size;
  };
  std::vector<Span> arrays;  // labels, deleted, levels, codes, links0, upper[, refine codes]
};

Layout2 ParseLayout2(const std::string& bytes, size_t code_size, size_t refine_size) {
  Layout2 l;
  EXPECT_EQ(bytes.compare(0, 8, "HNSWGRF2"), 0);
  std::memcpy(l.header, bytes.data() + 8, 10 * 8);
  const uint64_t m = l.header[5], count = l.header[6], upper = l.header[9];
  std::vector<size_t> sizes{count * 8, count, count * 4, count * code_size, count * (2 * m + 1) * 4,
                            upper * 4};
  if (l.header[2] != 0) sizes.push_back(count * refine_size);
  size_t at = 96;
  for (size_t size : sizes) {
    at = (at + 63) / 64 * 64;
    l.arrays.push_back({at, size});
    at += size;
  }
  EXPECT_EQ(at, bytes.size());
  return l;
}

// The same index in the unpadded layout of earlier versions: 1 (HNSW_SQ) or 0 (HNSW).
std::string Unpadded(const std::string& bytes, const Layout2& l, bool quantized) {
  std::string out;
  auto u64 = [&](uint64_t v) { out.append(reinterpret_cast<const char*>(&v), 8); };
  if (quantized) {
    out.append("HNSW_SQ\0", 8);
    u64(1);
    for (int i = 1; i <= 3; ++i) u64(l.header[i]);  // code, refine, refine_code
  }
  for (int i = 4; i <= 8; ++i) u64(l.header[i]);  // dim, m, count, levels, entry
  for (const Layout2::Span& a : l.arrays) out.append(bytes, a.offset, a.size);
  return out;
}

struct Config {
  const char* type;
  Metric metric;
  json params;
  size_t code_size, refine_size;  // for 16 dimensions
};

std::vector<Config> Configs() {
  return {{"HNSW", Metric::kL2, json::object(), 64, 0},
          {"HNSW", Metric::kIP, json::object(), 64, 0},
          {"HNSW_SQ",
           Metric::kL2,
           {{"sq_type", "SQ8"}, {"refine", true}, {"refine_type", "FP32"}},
           24,
           64},  // SQ8: an 8-byte header, then a byte per dimension
          {"HNSW_SQ", Metric::kIP, {{"sq_type", "FP16"}}, 32, 0}};
}

void ExpectSameAnswers(const Index& a, const Index& b, const std::vector<float>& queries,
                       size_t dim) {
  for (size_t q = 0; q < queries.size() / dim; ++q) {
    auto x = ValueOrDie(a.Search(&queries[q * dim], 10, {}, {}));
    auto y = ValueOrDie(b.Search(&queries[q * dim], 10, {}, {}));
    ASSERT_EQ(x.size(), y.size());
    for (size_t i = 0; i < x.size(); ++i) {
      EXPECT_EQ(x[i].label, y[i].label);
      EXPECT_EQ(x[i].distance, y[i].distance);
    }
  }
  std::vector<int64_t> la = a.Labels(), lb = b.Labels();
  std::sort(la.begin(), la.end());
  std::sort(lb.begin(), lb.end());
  EXPECT_EQ(la, lb);
}

// An index of `data` with label `removed` taken out, and its bytes.
struct Built {
  std::unique_ptr<Index> index;
  std::string bytes;
};

Built BuildAndSerialize(const IndexDescription& d, const std::vector<float>& data, size_t dim,
                        int64_t removed) {
  Built b{ValueOrDie(MakeIndex(d, false, dim)), ""};
  auto labels = LabelsFrom(0, data.size() / dim);
  EXPECT_TRUE(b.index->Add(labels.size(), labels.data(), data.data()).ok());
  b.index->Remove(removed);
  EXPECT_TRUE(b.index->Serialize(&b.bytes).ok());
  return b;
}

TEST(HnswLayoutTest, InPlaceAnswersAsAFullLoadAndChangesOnlyItsOwnCopy) {
  const size_t n = 1500, dim = 16;
  const auto data = RandomVectors(n, dim, 1), more = RandomVectors(100, dim, 2),
             queries = RandomVectors(20, dim, 3);
  for (const Config& c : Configs()) {
    SCOPED_TRACE(std::string(c.type) + " " + c.params.dump() + " " + MetricName(c.metric));
    IndexDescription d{c.type, c.metric, c.params};
    auto [built, bytes] = BuildAndSerialize(d, data, dim, 7);
    auto payload = std::make_shared<const std::string>(bytes);
    auto loaded = ValueOrDie(MakeIndex(d, false, dim)),
         in_place = ValueOrDie(MakeIndex(d, false, dim));
    ASSERT_TRUE(loaded->Deserialize(bytes).ok());
    ASSERT_TRUE(in_place->DeserializeInPlace(*payload, payload).ok());
    // Borrowed: the vectors and links stay in the payload.
    EXPECT_LT(in_place->MemoryUsage() * 4, loaded->MemoryUsage());
    ExpectSameAnswers(*loaded, *in_place, queries, dim);
    ExpectSameAnswers(*built, *in_place, queries, dim);
    // Changes: a removal, then adds, which copy the arrays first; the payload is untouched.
    auto new_labels = LabelsFrom(int64_t(n), more.size() / dim);
    for (Index* index : {loaded.get(), in_place.get()}) {
      index->Remove(8);
      ASSERT_TRUE(index->Add(new_labels.size(), new_labels.data(), more.data()).ok());
      index->Remove(int64_t(n) + 3);
    }
    EXPECT_EQ(*payload, bytes);
    EXPECT_EQ(in_place->size(), n - 2 + new_labels.size() - 1);
    ExpectSameAnswers(*loaded, *in_place, queries, dim);
  }
}

TEST(HnswLayoutTest, UnpaddedLayoutsOfEarlierVersionsAreStillRead) {
  const size_t n = 800, dim = 16;
  const auto data = RandomVectors(n, dim, 4), queries = RandomVectors(10, dim, 5);
  for (const Config& c : Configs()) {
    SCOPED_TRACE(std::string(c.type) + " " + c.params.dump());
    IndexDescription d{c.type, c.metric, c.params};
    auto [built, bytes] = BuildAndSerialize(d, data, dim, 3);
    const bool quantized = std::string(c.type) == "HNSW_SQ";
    auto old = std::make_shared<const std::string>(
        Unpadded(bytes, ParseLayout2(bytes, c.code_size, c.refine_size), quantized));
    auto loaded = ValueOrDie(MakeIndex(d, false, dim)),
         in_place = ValueOrDie(MakeIndex(d, false, dim));
    ASSERT_TRUE(loaded->Deserialize(*old).ok());
    ASSERT_TRUE(in_place->DeserializeInPlace(*old, old).ok());  // copies: not aligned
    ExpectSameAnswers(*built, *loaded, queries, dim);
    ExpectSameAnswers(*built, *in_place, queries, dim);
    // Written again, it is layout 2.
    std::string again;
    ASSERT_TRUE(loaded->Serialize(&again).ok());
    EXPECT_EQ(again, bytes);
  }
}

// A graph used in place has its links checked only before its first change: until then
// every walk bounds what it reads (ASan would see a read past an array), and the change
// is refused rather than made on a damaged graph. Copied, the same bytes are refused.
TEST(HnswLayoutTest, DamagedLinksAreBoundedInPlaceAndRefusedBeforeAChange) {
  const size_t n = 300, dim = 16;
  const auto data = RandomVectors(n, dim, 6), queries = RandomVectors(5, dim, 7);
  IndexDescription d{"HNSW", Metric::kL2, {{"M", 8}}};
  auto built = ValueOrDie(MakeIndex(d, false, dim));
  auto labels = LabelsFrom(0, n);
  ASSERT_TRUE(built->Add(n, labels.data(), data.data()).ok());
  std::string bytes;
  ASSERT_TRUE(built->Serialize(&bytes).ok());
  const Layout2 layout = ParseLayout2(bytes, dim * 4, 0);
  const Layout2::Span links0 = layout.arrays[4], upper = layout.arrays[5];
  ASSERT_GT(upper.size, 0u);

  // Regression (found by ThreadSanitizer as a heap-use-after-free): a count of 2^31 or
  // more passed as a negative int and the check read far past the node's list.
  std::string huge_count = bytes;
  const uint32_t huge = 0x80000000u;
  std::memcpy(&huge_count[links0.offset], &huge, sizeof(huge));
  auto copied = ValueOrDie(MakeIndex(d, false, dim));
  Status refused = copied->Deserialize(huge_count);
  EXPECT_EQ(refused.code(), StatusCode::kCorruption);
  EXPECT_NE(refused.message().find("link count out of range"), std::string::npos)
      << refused.message();
  auto payload = std::make_shared<const std::string>(huge_count);
  auto in_place = ValueOrDie(MakeIndex(d, false, dim));
  ASSERT_TRUE(in_place->DeserializeInPlace(*payload, payload).ok());
  for (size_t q = 0; q < 5; ++q) EXPECT_TRUE(in_place->Search(&queries[q * dim], 5, {}, {}).ok());
  Status added = in_place->Add(1, &labels[0], data.data());
  EXPECT_EQ(added.code(), StatusCode::kCorruption) << added.ToString();

  // Random damage to the links of every level: whatever is accepted answers or errs.
  std::mt19937 rng(8);
  int refused_copies = 0;
  for (int round = 0; round < 300; ++round) {
    auto damaged = std::make_shared<std::string>(bytes);
    const Layout2::Span& span = round % 2 == 0 ? links0 : upper;
    size_t at = span.offset + rng() % span.size;
    (*damaged)[at] = static_cast<char>(rng() % 2 == 0 ? 0xff : rng() % 256);
    refused_copies += !ValueOrDie(MakeIndex(d, false, dim))->Deserialize(*damaged).ok();
    auto used = ValueOrDie(MakeIndex(d, false, dim));
    if (!used->DeserializeInPlace(*damaged, damaged).ok()) continue;
    for (size_t q = 0; q < 5; ++q) (void)used->Search(&queries[q * dim], 5, {}, {});
  }
  EXPECT_GT(refused_copies, 0);
}

}  // namespace
}  // namespace imgsearch::index
