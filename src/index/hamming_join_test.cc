// The multi-index Hamming join finds exactly the pairs that comparing every pair finds:
// random codes with planted near copies, one and several words, every split.
#include "index/hamming_join.h"

#include <gtest/gtest.h>

#include <random>

namespace imgsearch::index {
namespace {

// `n` random codes of `bits` bits; a third of them are copies of an earlier code with
// 0..2*max_distance bits flipped, so that pairs fall both inside and just outside the distance.
std::vector<uint64_t> RandomCodes(size_t n, size_t bits, int max_distance, unsigned seed) {
  size_t words = (bits + 63) / 64;
  std::mt19937_64 random(seed);
  std::vector<uint64_t> codes(n * words);
  for (size_t i = 0; i < n; ++i) {
    uint64_t* code = codes.data() + i * words;
    if (i > 0 && random() % 3 == 0) {
      std::copy_n(codes.data() + (random() % i) * words, words, code);
      int flips = int(random() % uint64_t(2 * max_distance + 1));
      for (int f = 0; f < flips; ++f) {
        size_t bit = random() % bits;
        code[bit / 64] ^= uint64_t{1} << (bit % 64);
      }
      continue;
    }
    for (size_t w = 0; w < words; ++w) code[w] = random();
    if (bits % 64 != 0) code[words - 1] &= (uint64_t{1} << (bits % 64)) - 1;
  }
  return codes;
}

// Whether a split probes few enough buckets for a quick test (the answer does not depend
// on it; a wide block with a large radius is merely slow).
bool Quick(const std::vector<HammingBlock>& plan, size_t n) {
  double probes = 0;
  for (const HammingBlock& b : plan) {
    if (b.width > 22) return false;
    double volume = 0, choose = 1;
    for (int k = 0; k <= std::min(b.radius, b.width); ++k) {
      volume += choose;
      choose = choose * (b.width - k) / (k + 1);
    }
    probes += volume * double(n);
  }
  return probes < 3e7;
}

struct Case {
  size_t bits;
  int max_distance;
};

class HammingJoinTest : public ::testing::TestWithParam<Case> {};

TEST_P(HammingJoinTest, EverySplitFindsTheQuadraticPairs) {
  const Case c = GetParam();
  size_t words = (c.bits + 63) / 64, n = 3000;
  std::vector<uint64_t> codes =
      RandomCodes(n, c.bits, c.max_distance, unsigned(c.bits * 100 + c.max_distance));
  std::vector<HammingPair> expected = HammingPairsQuadratic(codes.data(), n, words, c.max_distance);
  ASSERT_GT(expected.size(), 100u);  // the planted copies
  int tested = 0;
  for (size_t m = 1; m <= 12; ++m) {
    std::vector<HammingBlock> plan = SplitIntoBlocks(c.bits, m, c.max_distance);
    if (!Quick(plan, n)) continue;
    ++tested;
    int radii = 0;
    for (const HammingBlock& b : plan) radii += b.radius;
    EXPECT_GE(radii, c.max_distance - int(m) + 1);
    for (int threads : {1, 3}) {
      std::vector<HammingPair> found =
          HammingPairsWithPlan(codes.data(), n, words, c.max_distance, plan, threads);
      ASSERT_EQ(found.size(), expected.size()) << m << " blocks, " << threads << " threads";
      EXPECT_EQ(found, expected) << m << " blocks";
    }
  }
  EXPECT_GE(tested, 3);
  EXPECT_EQ(HammingPairs(codes.data(), n, words, c.bits, c.max_distance, 2), expected);
}

TEST_P(HammingJoinTest, CrossJoinFindsTheQuadraticPairs) {
  // Codes against a shuffled, lightly changed copy of themselves, as a rotated picture's
  // hash is matched against the others'.
  const Case c = GetParam();
  size_t words = (c.bits + 63) / 64, n = 1500;
  std::vector<uint64_t> codes = RandomCodes(n, c.bits, c.max_distance, unsigned(c.bits + 7));
  std::vector<uint64_t> transformed(codes.size());
  std::mt19937_64 random(5);
  for (size_t i = 0; i < n; ++i) {
    std::copy_n(codes.data() + ((i * 7 + 3) % n) * words, words, transformed.data() + i * words);
    size_t bit = random() % c.bits;
    if (c.max_distance > 0) transformed[i * words + bit / 64] ^= uint64_t{1} << (bit % 64);
  }
  std::vector<HammingPair> expected =
      HammingPairsAcrossQuadratic(codes.data(), transformed.data(), n, words, c.max_distance);
  ASSERT_GT(expected.size(), 50u);
  for (const HammingPair& p : expected) ASSERT_NE(p.a, p.b);
  for (size_t m : {3u, 5u, 8u}) {
    std::vector<HammingBlock> plan = SplitIntoBlocks(c.bits, m, c.max_distance);
    if (!Quick(plan, n)) continue;
    EXPECT_EQ(HammingPairsAcrossWithPlan(codes.data(), transformed.data(), n, words, c.max_distance,
                                         plan, 2),
              expected)
        << m << " blocks";
  }
  EXPECT_EQ(
      HammingPairsAcross(codes.data(), transformed.data(), n, words, c.bits, c.max_distance, 2),
      expected);
}

INSTANTIATE_TEST_SUITE_P(Codes, HammingJoinTest,
                         ::testing::Values(Case{64, 12}, Case{64, 0}, Case{64, 3}, Case{64, 20},
                                           Case{100, 10}, Case{128, 16}),
                         [](const auto& info) {
                           return "bits" + std::to_string(info.param.bits) + "_distance" +
                                  std::to_string(info.param.max_distance);
                         });

TEST(HammingJoinTest, CrowdedBucketsAndEqualCodes) {
  // Many equal codes and codes that differ only inside one block: every pair is found once.
  std::vector<uint64_t> codes;
  for (int i = 0; i < 200; ++i) codes.push_back(0xABCDull);
  for (int i = 0; i < 200; ++i) codes.push_back(0xABCDull ^ (uint64_t{1} << (i % 64)));
  std::vector<HammingPair> expected = HammingPairsQuadratic(codes.data(), codes.size(), 1, 2);
  ASSERT_EQ(expected.size(), 400u * 399u / 2u);  // flipped copies are 2 bits apart at most
  for (size_t m : {2u, 4u, 8u}) {
    EXPECT_EQ(HammingPairsWithPlan(codes.data(), codes.size(), 1, 2, SplitIntoBlocks(64, m, 2), 2),
              expected);
  }
}

TEST(HammingJoinTest, PlanAtAMillionCodesIsNotQuadratic) {
  std::vector<HammingBlock> plan = HammingJoinPlan(1000000, 64, 12);
  ASSERT_FALSE(plan.empty());
  int radii = 0;
  for (const HammingBlock& b : plan) radii += b.radius;
  EXPECT_GE(radii, 12 - int(plan.size()) + 1);
  EXPECT_TRUE(HammingJoinPlan(100, 64, 12).empty());  // a few codes: compare them all
  EXPECT_TRUE(HammingPairs(nullptr, 0, 1, 64, 12).empty());
  uint64_t one = 5;
  EXPECT_TRUE(HammingPairs(&one, 1, 1, 64, 12).empty());
  EXPECT_TRUE(HammingPairs(&one, 1, 1, 64, -1).empty());
}

}  // namespace
}  // namespace imgsearch::index
