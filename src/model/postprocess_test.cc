#include "model/postprocess.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace imgsearch::model {
namespace {

// Pooling checked against the plain definition, element by element.
TEST(PostprocessTest, PoolingMatchesStraightforwardLoops) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-3, 3);
  const int n = 2, c = 5, h = 3, w = 4;
  std::vector<float> data(n * c * h * w);
  for (float& v : data) v = dist(rng);
  for (bool channels_last : {false, true}) {
    for (Pooling pooling : {Pooling::kMax, Pooling::kAvg}) {
      ModelSpec spec;
      spec.pooling = pooling;
      spec.output_layout = channels_last ? TensorLayout::kNhwc : TensorLayout::kNchw;
      std::vector<int64_t> shape =
          channels_last ? std::vector<int64_t>{n, h, w, c} : std::vector<int64_t>{n, c, h, w};
      auto g = DescribeOutput(shape, spec);
      ASSERT_TRUE(g.ok());
      std::vector<float> out(n * c);
      PoolOutput(data.data(), *g, pooling, out.data());
      for (int b = 0; b < n; ++b) {
        for (int ch = 0; ch < c; ++ch) {
          float best = -1e30f, sum = 0;
          for (int s = 0; s < h * w; ++s) {
            float v =
                channels_last ? data[(b * h * w + s) * c + ch] : data[(b * c + ch) * h * w + s];
            best = std::max(best, v);
            sum += v;
          }
          float want = pooling == Pooling::kMax ? best : sum / (h * w);
          EXPECT_NEAR(out[b * c + ch], want, 1e-5) << channels_last << int(pooling);
        }
      }
    }
  }
}

TEST(PostprocessTest, OutputShapesNeedTheRightRankAndPooling) {
  ModelSpec spec;
  spec.output = "features";
  EXPECT_TRUE(DescribeOutput({4, 2048}, spec).ok());
  auto spatial = DescribeOutput({4, 2048, 7, 7}, spec);
  ASSERT_FALSE(spatial.ok());
  EXPECT_NE(spatial.status().message().find("pooling"), std::string::npos);
  auto rank3 = DescribeOutput({4, 49, 2048}, spec);
  ASSERT_FALSE(rank3.ok());
  EXPECT_NE(rank3.status().message().find("[4, 49, 2048]"), std::string::npos);
}

TEST(PostprocessTest, L2NormalizeGivesUnitLengthAndKeepsZero) {
  std::vector<float> v = {3, 4};
  L2Normalize(v);
  EXPECT_FLOAT_EQ(v[0], 0.6f);
  EXPECT_FLOAT_EQ(v[1], 0.8f);
  std::vector<float> zero = {0, 0, 0};
  L2Normalize(zero);
  EXPECT_EQ(zero, (std::vector<float>{0, 0, 0}));
}

TEST(PostprocessTest, PackBitsIsMostSignificantBitFirst) {
  std::vector<float> v = {1,  -1, 0,  2,  0,  0,  0, 0.5f, /* second byte */ -1,
                          -1, -1, -1, -1, -1, -1, 3};
  uint8_t out[2];
  PackBits(v, out);
  EXPECT_EQ(out[0], 0b10010001);
  EXPECT_EQ(out[1], 0b00000001);
}

}  // namespace
}  // namespace imgsearch::model
