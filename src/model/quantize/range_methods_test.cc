#include "model/quantize/range_methods.h"

#include <gtest/gtest.h>

#include <numeric>
#include <random>

#include "model/quantize/quant_params.h"

namespace imgsearch::model::quantize {
namespace {

uint64_t Total(const std::vector<uint64_t>& bins) {
  return std::accumulate(bins.begin(), bins.end(), uint64_t{0});
}

TEST(RangeMethodsTest, MinMaxIsTheObservedRange) {
  TensorRangeCollector c(false);
  std::vector<float> a{-1.5f, 0.25f, 3.0f}, b{-0.5f, 7.0f};
  c.Add(a.data(), a.size());
  c.Add(b.data(), b.size());
  EXPECT_EQ(c.count(), 5u);
  EXPECT_FLOAT_EQ(c.Range(RangeMethod::kMinMax, 99).min, -1.5f);
  EXPECT_FLOAT_EQ(c.Range(RangeMethod::kMinMax, 99).max, 7.0f);
}

// Doubling the histogram's limit merges bin pairs: every value stays in the bin that
// covers it, so the histogram equals one built with the final limit from the start.
TEST(RangeMethodsTest, GrowingHistogramEqualsOneBuiltAtTheFinalLimit) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> small(-1, 1), large(-8, 8);
  std::vector<float> first(1000), second(1000);
  for (float& v : first) v = small(rng);
  for (float& v : second) v = large(rng);
  first[0] = 1.0f;   // limit 1 after the first batch
  second[0] = 8.0f;  // then 8: three doublings
  TensorRangeCollector grown(true), direct(true);
  grown.Add(first.data(), first.size());
  grown.Add(second.data(), second.size());
  std::vector<float> all = second;
  all.insert(all.end(), first.begin(), first.end());
  direct.Add(all.data(), all.size());
  EXPECT_DOUBLE_EQ(grown.bin_width(), direct.bin_width());
  EXPECT_EQ(grown.histogram(), direct.histogram());
  EXPECT_EQ(Total(grown.histogram()), 2000u);
}

TEST(RangeMethodsTest, ExactZerosAreLeftOutOfTheHistogram) {
  TensorRangeCollector c(true);
  std::vector<float> zeros(10, 0.0f), values{0.5f, -1.0f, 0.0f};
  c.Add(zeros.data(), zeros.size());
  EXPECT_TRUE(c.histogram().empty());
  c.Add(values.data(), values.size());
  EXPECT_EQ(c.count(), 13u);
  EXPECT_EQ(Total(c.histogram()), 2u);
}

TEST(RangeMethodsTest, PercentileIgnoresRareOutliers) {
  // 10,000 values spread evenly over [0, 1), and 1 at 100.
  std::vector<float> values;
  for (int i = 0; i < 10000; ++i) values.push_back(i / 10000.0f);
  values.push_back(100.0f);
  TensorRangeCollector c(true);
  c.Add(values.data(), values.size());
  ValueRange r = c.Range(RangeMethod::kPercentile, 99.9);
  EXPECT_EQ(r.min, 0.0f);
  // One bin is 100/2048 wide: the threshold is the first bin edge past 99.9% of values.
  EXPECT_NEAR(r.max, 1.0, 100.0 / 2048 + 1e-6);
  EXPECT_FLOAT_EQ(c.Range(RangeMethod::kPercentile, 100).max, 100.0f);
}

// Gaussian values with a handful of far outliers: the KL search clips the outliers
// but keeps the bulk of the distribution (several standard deviations).
TEST(RangeMethodsTest, EntropyClipsOutliersButKeepsTheBulk) {
  std::mt19937 rng(2);
  std::normal_distribution<float> normal(0, 1);
  std::vector<float> values(200000);
  for (float& v : values) v = normal(rng);
  for (int i = 0; i < 5; ++i) values[i] = 60.0f;
  TensorRangeCollector c(true);
  c.Add(values.data(), values.size());
  ValueRange r = c.Range(RangeMethod::kEntropy, 0);
  EXPECT_GT(r.max, 2.5f);
  EXPECT_LT(r.max, 12.0f);
  EXPECT_LT(r.min, -2.5f);
  EXPECT_GE(r.min, -r.max);  // never past the threshold
}

TEST(RangeMethodsTest, EntropyKeepsAnEvenSpreadWhole) {
  std::vector<uint64_t> bins(2048, 100);
  EXPECT_NEAR(EntropyThreshold(bins, 1.0, 128), 2048.0, 1.0);
}

TEST(RangeMethodsTest, ParseAndName) {
  for (const char* name : {"minmax", "percentile", "entropy"}) {
    auto method = ParseRangeMethod(name);
    ASSERT_TRUE(method.ok());
    EXPECT_STREQ(RangeMethodName(*method), name);
  }
  EXPECT_FALSE(ParseRangeMethod("kl").ok());
}

TEST(QuantParamsTest, WeightsPerOutputChannelSymmetric) {
  // Two output channels (axis 0) of two values each.
  ChannelQuantized q = QuantizeWeightsPerChannel({0.5f, -1.0f, 0.0f, 0.0f}, {2, 2}, 0);
  ASSERT_EQ(q.scales.size(), 2u);
  EXPECT_FLOAT_EQ(q.scales[0], 1.0f / 127);
  EXPECT_FLOAT_EQ(q.scales[1], 1.0f);  // all zero
  EXPECT_EQ(q.values, (std::vector<int8_t>{64, -127, 0, 0}));
  // Axis 1 (Gemm without transB, MatMul): the column is the channel.
  ChannelQuantized columns = QuantizeWeightsPerChannel({1.0f, 2.0f, -1.0f, 4.0f}, {2, 2}, 1);
  EXPECT_FLOAT_EQ(columns.scales[0], 1.0f / 127);
  EXPECT_FLOAT_EQ(columns.scales[1], 4.0f / 127);
  EXPECT_EQ(columns.values, (std::vector<int8_t>{127, 64, -127, 127}));
}

TEST(QuantParamsTest, BiasIsInt32AtInputTimesWeightScale) {
  std::vector<int32_t> q = QuantizeBias({1.0f, -0.5f}, 0.01f, {0.1f, 0.5f});
  EXPECT_EQ(q, (std::vector<int32_t>{1000, -100}));
}

TEST(QuantParamsTest, ActivationsUint8WithZeroExact) {
  ActivationParams relu = ActivationParamsFor({0.0f, 6.0f});
  EXPECT_FLOAT_EQ(relu.scale, 6.0f / 255);
  EXPECT_EQ(relu.zero_point, 0);  // a Relu before it is redundant
  ActivationParams both = ActivationParamsFor({-1.0f, 3.0f});
  EXPECT_FLOAT_EQ(both.scale, 4.0f / 255);
  EXPECT_EQ(both.zero_point, 64);  // round(1 / (4 / 255)) = round(63.75)
  ActivationParams positive = ActivationParamsFor({2.0f, 4.0f});  // widened to [0, 4]
  EXPECT_EQ(positive.zero_point, 0);
  EXPECT_FLOAT_EQ(ActivationParamsFor({0.0f, 0.0f}).scale, 1.0f);
}

}  // namespace
}  // namespace imgsearch::model::quantize
