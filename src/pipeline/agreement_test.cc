#include "pipeline/agreement.h"

#include <gtest/gtest.h>

#include <cmath>

namespace imgsearch::pipeline {
namespace {

TEST(AgreementTest, ReciprocalRankFusionByHand) {
  // Model 1 ranks 1, 2, 3; model 2 ranks 3, 1, 4. With k0 = 60:
  // 1: 1/61 + 1/62; 3: 1/63 + 1/61; 2: 1/62; 4: 1/63.
  auto fused = FuseRrf({{{1, 0}, {2, 0}, {3, 0}}, {{3, 0}, {1, 0}, {4, 0}}}, 3);
  ASSERT_EQ(fused.size(), 3u);
  EXPECT_EQ(fused[0].id, 1);
  EXPECT_EQ(fused[1].id, 3);
  EXPECT_EQ(fused[2].id, 2);
  EXPECT_DOUBLE_EQ(fused[0].score, 1.0 / 61 + 1.0 / 62);
}

TEST(AgreementTest, WeightedFusionByHand) {
  // List 1 distances 0, 5, 10 -> similarities 1, 0.5, 0; list 2: 2, 4 -> 1, 0.
  auto fused = FuseWeighted({{{1, 0}, {2, 5}, {3, 10}}, {{3, 2}, {2, 4}}}, {1.0, 2.0}, 3);
  ASSERT_EQ(fused.size(), 3u);
  EXPECT_EQ(fused[0].id, 3);  // 0 + 2 * 1
  EXPECT_DOUBLE_EQ(fused[0].score, 2.0);
  EXPECT_EQ(fused[1].id, 1);  // 1
  EXPECT_EQ(fused[2].id, 2);  // 0.5 + 0
  EXPECT_DOUBLE_EQ(fused[2].score, 0.5);
}

TEST(AgreementTest, StandardizedFusionByHand) {
  // Model 1 (L2, squared; center 3, spread 1): distances 1 and 4 -> roots 1, 2 -> scores
  // 2, 1. Model 2 (center 10, spread 2): 4 and 8 -> 3, 1. Model 3 has weight 0: its id 9
  // is left out and it adds nothing to id 2.
  DistanceScale l2{3, 1, true}, other{10, 2, false};
  auto fused = FuseStandardized({{{1, 1}, {2, 4}}, {{2, 4}, {3, 8}}, {{9, 0}, {2, 0}}},
                                {1.0, 0.5, 0.0}, {l2, other, other}, 5);
  ASSERT_EQ(fused.size(), 3u);
  EXPECT_EQ(fused[0].id, 2);  // 1 + 0.5 x 3
  EXPECT_DOUBLE_EQ(fused[0].score, 2.5);
  EXPECT_EQ(fused[1].id, 1);  // 2
  EXPECT_DOUBLE_EQ(fused[1].score, 2.0);
  EXPECT_EQ(fused[2].id, 3);  // 0.5 x 1
  EXPECT_DOUBLE_EQ(fused[2].score, 0.5);
  EXPECT_DOUBLE_EQ(l2.StandardScore(-1), 3.0) << "a negative squared distance is clamped to 0";
}

TEST(AgreementTest, OverlapJaccardAndRankCorrelations) {
  PairAgreement same = Agreement({1, 2, 3}, {1, 2, 3});
  EXPECT_DOUBLE_EQ(same.overlap, 1.0);
  EXPECT_DOUBLE_EQ(same.jaccard, 1.0);
  EXPECT_DOUBLE_EQ(same.spearman, 1.0);
  EXPECT_DOUBLE_EQ(same.kendall, 1.0);
  PairAgreement reversed = Agreement({1, 2, 3}, {3, 2, 1});
  EXPECT_DOUBLE_EQ(reversed.spearman, -1.0);
  EXPECT_DOUBLE_EQ(reversed.kendall, -1.0);
  // {1,2,3} vs {1,4,5}: 1 in common of 3; union of 5.
  PairAgreement partial = Agreement({1, 2, 3}, {1, 4, 5});
  EXPECT_DOUBLE_EQ(partial.overlap, 1.0 / 3);
  EXPECT_DOUBLE_EQ(partial.jaccard, 1.0 / 5);
  // Ranks over the union (1..5): a = 1,2,3,4,4; b = 1,4,4,2,3. Pearson of those:
  std::vector<double> a = {1, 2, 3, 4, 4}, b = {1, 4, 4, 2, 3};
  double ma = 2.8, mb = 2.8, sab = 0, saa = 0, sbb = 0;
  for (int i = 0; i < 5; ++i)
    sab += (a[i] - ma) * (b[i] - mb), saa += (a[i] - ma) * (a[i] - ma),
        sbb += (b[i] - mb) * (b[i] - mb);
  EXPECT_NEAR(partial.spearman, sab / std::sqrt(saa * sbb), 1e-12);
}

TEST(AgreementTest, RetrievalMetricsByHand) {
  std::vector<int64_t> ranked = {7, 3, 9, 1, 5};
  std::vector<int64_t> relevant = {3, 1, 8};
  EXPECT_DOUBLE_EQ(PrecisionAtK(ranked, relevant, 4), 2.0 / 4);
  EXPECT_DOUBLE_EQ(RecallAtK(ranked, relevant, 4), 2.0 / 3);
  // Hits at ranks 2 and 4: precisions 1/2 and 2/4; divided by min(4, 3) = 3.
  EXPECT_DOUBLE_EQ(AveragePrecisionAtK(ranked, relevant, 4), (0.5 + 0.5) / 3);
  EXPECT_DOUBLE_EQ(AveragePrecisionAtK(ranked, relevant, 1), 0.0);
  DistanceStats s = Stats({{1, 1}, {2, 3}, {3, 2}, {4, 10}});
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, 10);
  EXPECT_DOUBLE_EQ(s.mean, 4);
  EXPECT_DOUBLE_EQ(s.median, 2.5);
}

}  // namespace
}  // namespace imgsearch::pipeline
