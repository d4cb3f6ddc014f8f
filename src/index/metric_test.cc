#include "index/metric.h"

#include <gtest/gtest.h>

#include <random>

namespace imgsearch::index {
namespace {

// Every SIMD kernel against its scalar twin, on every length up to 100 (all tail cases)
// and on the model sizes.
TEST(MetricTest, SimdKernelsMatchScalarLoops) {
  std::mt19937 rng(1);
  std::normal_distribution<float> dist;
  for (size_t dim : std::vector<size_t>{1, 2, 7, 15, 16, 17, 31, 32, 33, 64, 100, 512, 2048}) {
    std::vector<float> a(dim), b(dim);
    for (size_t i = 0; i < dim; ++i) a[i] = dist(rng), b[i] = dist(rng);
    float l2 = scalar::L2Squared(a.data(), b.data(), dim);
    float ip = scalar::InnerProduct(a.data(), b.data(), dim);
    EXPECT_NEAR(L2Squared(a.data(), b.data(), dim), l2, 1e-4 * (1 + std::abs(l2))) << dim;
    EXPECT_NEAR(InnerProduct(a.data(), b.data(), dim), ip, 1e-4 * (1 + std::abs(ip))) << dim;
  }
  for (size_t bytes : std::vector<size_t>{1, 3, 8, 9, 64, 100}) {
    std::vector<uint8_t> a(bytes), b(bytes);
    for (size_t i = 0; i < bytes; ++i) a[i] = uint8_t(rng()), b[i] = uint8_t(rng());
    EXPECT_EQ(HammingDistance(a.data(), b.data(), bytes),
              scalar::HammingDistance(a.data(), b.data(), bytes));
  }
  std::printf("kernels: %s\n", KernelIsa());
}

TEST(MetricTest, DistancesFollowMilvusConventions) {
  float a[] = {1, 0}, b[] = {0, 2};
  EXPECT_FLOAT_EQ(Distance(Metric::kL2, a, b, 2), 5.0f);   // squared, as Milvus
  EXPECT_FLOAT_EQ(Distance(Metric::kIP, a, a, 2), -1.0f);  // internal: negated similarity
  EXPECT_FLOAT_EQ(ReportedDistance(Metric::kIP, -1.0f), 1.0f);
  uint8_t x[] = {0b11110000}, y[] = {0b11001100};
  EXPECT_FLOAT_EQ(Distance(Metric::kHamming, x, y, 1), 4.0f);
  EXPECT_FLOAT_EQ(Distance(Metric::kJaccard, x, y, 1), 1.0f - 2.0f / 6.0f);
  uint8_t zero[] = {0};
  EXPECT_FLOAT_EQ(JaccardDistance(zero, zero, 1), 0.0f);
}

TEST(MetricTest, ParsesMilvusNames) {
  EXPECT_EQ(*ParseMetric("L2"), Metric::kL2);
  EXPECT_EQ(*ParseMetric("cosine"), Metric::kCosine);
  EXPECT_EQ(*ParseMetric("HAMMING"), Metric::kHamming);
  EXPECT_FALSE(ParseMetric("EUCLID").ok());
  EXPECT_TRUE(IsBinaryMetric(Metric::kJaccard));
  EXPECT_FALSE(IsBinaryMetric(Metric::kCosine));
}

}  // namespace
}  // namespace imgsearch::index
