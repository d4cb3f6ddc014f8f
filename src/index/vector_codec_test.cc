// VectorCodec's SIMD kernels against its scalar ones, its rounding error, and HNSW_SQ's
// own checks: exact distances after an FP32 refine, payloads of other encodings refused.
#include "index/vector_codec.h"

#include <gtest/gtest.h>

#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <random>

#include "index/index_factory.h"
#include "test_util.h"

namespace imgsearch::index {
namespace {

using imgsearch::testing::ValueOrDie;
using json = nlohmann::json;

std::vector<float> Gaussian(size_t n, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.3f, scale);
  std::vector<float> out(n);
  for (float& x : out) x = dist(rng);
  return out;
}

__attribute__((target("f16c"))) uint16_t F16cToHalf(float x) {
  return static_cast<uint16_t>(_cvtss_sh(x, _MM_FROUND_TO_NEAREST_INT));
}
__attribute__((target("f16c"))) float F16cToFloat(uint16_t h) {
  return _cvtsh_ss(h);
}

// The plain half conversions against the CPU's own: every half, and floats of every kind
// (normal, subnormal halves, overflow, ties).
TEST(HalfTest, ConversionsMatchF16cExactly) {
  if (!CpuHasF16c()) GTEST_SKIP() << "this CPU has no F16C";
  for (uint32_t h = 0; h <= 0xffff; ++h) {
    float ours = HalfToFloat(uint16_t(h)), cpu = F16cToFloat(uint16_t(h));
    if (std::isnan(cpu)) {
      EXPECT_TRUE(std::isnan(ours)) << h;
      continue;
    }
    ASSERT_EQ(std::memcmp(&ours, &cpu, 4), 0) << h;
    ASSERT_EQ(FloatToHalf(ours), h) << h;
  }
  std::mt19937 rng(5);
  for (int i = 0; i < 2000000; ++i) {
    uint32_t bits = rng();
    if (i % 2) bits = (bits & 0x807fffff) | ((100 + rng() % 50) << 23);  // near the half range
    float x;
    std::memcpy(&x, &bits, 4);
    if (std::isnan(x)) continue;
    ASSERT_EQ(FloatToHalf(x), F16cToHalf(x)) << x;
  }
}

constexpr VectorCode kCodes[] = {VectorCode::kSq8, VectorCode::kFp16, VectorCode::kBf16,
                                 VectorCode::kFp32};

// Odd sizes reach every tail path of the kernels.
TEST(VectorCodecTest, SimdKernelsMatchScalarOnes) {
  for (size_t dim : {1, 7, 8, 15, 16, 33, 512, 2048}) {
    auto v = Gaussian(dim, 1, 2.0f), q = Gaussian(dim, 2, 2.0f);
    for (VectorCode code : kCodes) {
      for (Metric metric : {Metric::kL2, Metric::kIP}) {
        VectorCodec codec(code, metric, dim);
        std::vector<uint8_t> stored(codec.code_size());
        codec.Encode(v.data(), stored.data());
        float want = metric == Metric::kL2
                         ? scalar::CodeL2(code, q.data(), stored.data(), dim)
                         : -scalar::CodeInnerProduct(code, q.data(), stored.data(), dim);
        EXPECT_NEAR(codec.Distance(q.data(), stored.data()), want, 1e-4f * (1 + std::fabs(want)))
            << VectorCodeName(code) << " " << MetricName(metric) << " dim " << dim;
        for (CodeIsa isa : {CodeIsa::kScalar, CodeIsa::kAvx2, CodeIsa::kAvx512}) {
          if (!CodeIsaSupported(isa)) continue;
          float got = CodeDistanceFor(code, metric, isa)(q.data(), stored.data(), dim);
          EXPECT_NEAR(got, want, 1e-4f * (1 + std::fabs(want)))
              << VectorCodeName(code) << " " << MetricName(metric) << " dim " << dim << " isa "
              << static_cast<int>(isa);
        }
      }
    }
  }
}

// Each encoding rounds within its own precision: half a level for SQ8, 11 and 8 bits of
// mantissa for FP16 and BF16, nothing for FP32.
TEST(VectorCodecTest, DecodedVectorsAreWithinTheEncodingsPrecision) {
  const size_t dim = 300;
  auto v = Gaussian(dim, 3, 1.5f);
  float lo = *std::min_element(v.begin(), v.end()), hi = *std::max_element(v.begin(), v.end());
  for (VectorCode code : kCodes) {
    VectorCodec codec(code, Metric::kL2, dim);
    std::vector<uint8_t> stored(codec.code_size());
    std::vector<float> back(dim);
    codec.Encode(v.data(), stored.data());
    codec.Decode(stored.data(), back.data());
    for (size_t i = 0; i < dim; ++i) {
      float bound = code == VectorCode::kSq8    ? (hi - lo) / 255 * 0.5001f
                    : code == VectorCode::kFp16 ? std::fabs(v[i]) * 0x1p-11f + 1e-7f
                    : code == VectorCode::kBf16 ? std::fabs(v[i]) * 0x1p-8f
                                                : 0.0f;
      EXPECT_LE(std::fabs(back[i] - v[i]), bound) << VectorCodeName(code) << " " << i;
    }
  }
}

TEST(VectorCodecTest, ConstantVectorsAndNamesRoundTrip) {
  std::vector<float> same(40, 0.25f), back(40);
  VectorCodec sq8(VectorCode::kSq8, Metric::kL2, 40);
  std::vector<uint8_t> stored(sq8.code_size());
  sq8.Encode(same.data(), stored.data());
  sq8.Decode(stored.data(), back.data());
  EXPECT_EQ(back, same);
  for (VectorCode code : kCodes) EXPECT_EQ(*ParseVectorCode(VectorCodeName(code)), code);
  EXPECT_EQ(*ParseVectorCode("fp16"), VectorCode::kFp16);
  EXPECT_FALSE(ParseVectorCode("SQ4").ok());
}

// With an FP32 refine, the distances HNSW_SQ returns are the exact ones, so the store need
// not re-rank them; SQ8 distances without it are approximate, as Milvus's are.
TEST(HnswSqTest, Fp32RefineReturnsExactDistances) {
  const size_t n = 2000, dim = 48;
  auto data = Gaussian(n * dim, 4, 1.0f), query = Gaussian(dim, 5, 1.0f);
  std::vector<int64_t> labels(n);
  for (size_t i = 0; i < n; ++i) labels[i] = int64_t(i);
  json params{{"sq_type", "SQ8"}, {"refine", true}, {"refine_type", "FP32"}, {"refine_k", 3}};
  auto index = ValueOrDie(MakeIndex({"HNSW_SQ", Metric::kL2, params}, false, dim));
  ASSERT_TRUE(index->Add(n, labels.data(), data.data()).ok());
  EXPECT_STREQ(index->type(), "HNSW_SQ");
  EXPECT_FALSE(IsLossy("HNSW_SQ"));
  EXPECT_TRUE(IsLossy("IVF_SQ8"));
  auto found = ValueOrDie(index->Search(query.data(), 10, {}, {}));
  ASSERT_EQ(found.size(), 10u);
  for (const Neighbor& hit : found) {
    float exact = scalar::L2Squared(query.data(), &data[size_t(hit.label) * dim], dim);
    EXPECT_NEAR(hit.distance, exact, 1e-3f * exact);
  }
  for (size_t i = 1; i < found.size(); ++i) EXPECT_LE(found[i - 1].distance, found[i].distance);
}

// A payload carries its encodings: loading one into an index of another encoding fails.
TEST(HnswSqTest, PayloadOfAnotherEncodingIsRefused) {
  const size_t n = 300, dim = 16;
  auto data = Gaussian(n * dim, 6, 1.0f);
  std::vector<int64_t> labels(n);
  for (size_t i = 0; i < n; ++i) labels[i] = int64_t(i);
  auto sq8 = ValueOrDie(MakeIndex({"HNSW_SQ", Metric::kL2, json{{"sq_type", "SQ8"}}}, false, dim));
  ASSERT_TRUE(sq8->Add(n, labels.data(), data.data()).ok());
  std::string bytes;
  ASSERT_TRUE(sq8->Serialize(&bytes).ok());
  for (json other : {json{{"sq_type", "FP16"}}, json{{"sq_type", "SQ8"}, {"refine", true}}}) {
    auto index = ValueOrDie(MakeIndex({"HNSW_SQ", Metric::kL2, other}, false, dim));
    EXPECT_FALSE(index->Deserialize(bytes).ok()) << other.dump();
  }
  auto plain = ValueOrDie(MakeIndex({"HNSW", Metric::kL2, json::object()}, false, dim));
  EXPECT_FALSE(plain->Deserialize(bytes).ok());
  std::string flipped = bytes;
  flipped[0] ^= 1;  // the magic
  auto same = ValueOrDie(MakeIndex({"HNSW_SQ", Metric::kL2, json{{"sq_type", "SQ8"}}}, false, dim));
  EXPECT_FALSE(same->Deserialize(flipped).ok());
  EXPECT_TRUE(same->Deserialize(bytes).ok());
  EXPECT_EQ(same->size(), n);
}

}  // namespace
}  // namespace imgsearch::index
