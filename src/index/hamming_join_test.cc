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

// The eight symmetries of an 8x8 grid of bits (bit 8r + c), with the bits of odd columns
// inverted by a left-right mirror and of odd rows by a top-bottom one, as a phash's bits
// move (model/dihedral.h): transform t transposes (bit 0), mirrors (bit 1), flips (bit 2).
std::vector<BitTransform> GridGroup() {
  std::vector<BitTransform> group;
  for (int t = 0; t < 8; ++t) {
    BitTransform bt;
    for (int r = 0; r < 8; ++r) {
      for (int c = 0; c < 8; ++c) {
        int sr = r, sc = c;
        if (t & 1) std::swap(sr, sc);
        bt.source[size_t(8 * r + c)] = uint8_t(8 * sr + sc);
        bool inverted = ((t & 2) && c % 2 == 1) != ((t & 4) && r % 2 == 1);
        if (inverted) bt.flip |= uint64_t{1} << (8 * r + c);
      }
    }
    group.push_back(bt);
  }
  return group;
}

// A cyclic group of order 4 (turning the code by 16 bits), whose quarter turns are each
// other's inverse; and the half turn alone.
std::vector<BitTransform> TurnGroup(int order) {
  std::vector<BitTransform> group;
  for (int t = 0; t < order; ++t) {
    BitTransform bt;
    for (int i = 0; i < 64; ++i) bt.source[size_t(i)] = uint8_t((i + 64 - t * 64 / order) % 64);
    group.push_back(bt);
  }
  return group;
}

// Random codes with planted transformed copies (some changed by a few bits more).
std::vector<uint64_t> CodesWithTransformedCopies(size_t n, const std::vector<BitTransform>& group,
                                                 int max_distance, unsigned seed) {
  std::mt19937_64 random(seed);
  std::vector<uint64_t> codes;
  while (codes.size() < n) {
    if (codes.size() > 1 && random() % 3 == 0) {
      uint64_t c = group[random() % group.size()].Apply(codes[random() % codes.size()]);
      int flips = int(random() % uint64_t(2 * max_distance + 1));
      for (int f = 0; f < flips; ++f) c ^= uint64_t{1} << (random() % 64);
      codes.push_back(c);
    } else {
      codes.push_back(random());
    }
  }
  return codes;
}

TEST(HammingJoinTest, OnePassUnderAGroupFindsTheQuadraticPairs) {
  for (const auto& [name, group] :
       {std::pair("grid", GridGroup()), std::pair("turns", TurnGroup(4)),
        std::pair("half turn", TurnGroup(2)), std::pair("identity", TurnGroup(1))}) {
    for (int distance : {0, 3, 12}) {
      std::vector<uint64_t> codes = CodesWithTransformedCopies(2500, group, distance, 11);
      std::vector<HammingGroupPair> expected =
          HammingPairsUnderGroupQuadratic(codes.data(), codes.size(), group, distance);
      ASSERT_GT(expected.size(), 100u) << name;
      size_t turned = 0;
      for (const HammingGroupPair& p : expected) turned += p.transform != 0;
      if (group.size() > 1) {
        EXPECT_GT(turned, 50u) << name;
      }
      for (size_t m : {1u, 3u, 4u, 6u}) {
        std::vector<HammingBlock> plan = SplitIntoBlocks(64, m, distance);
        if (!Quick(plan, codes.size())) continue;
        for (int threads : {1, 3}) {
          EXPECT_EQ(HammingPairsUnderGroupWithPlan(codes.data(), codes.size(), group, distance,
                                                   plan, threads),
                    expected)
              << name << ", distance " << distance << ", " << m << " blocks";
        }
      }
      EXPECT_EQ(HammingPairsUnderGroup(codes.data(), codes.size(), group, distance, 2), expected);
    }
  }
  // Every transform applied through the tables agrees with the bit-by-bit reference.
  std::vector<BitTransform> grid = GridGroup();
  EXPECT_EQ(grid[0].Apply(0x0123456789ABCDEFull), 0x0123456789ABCDEFull);
  EXPECT_EQ(grid[1].Apply(grid[1].Apply(0x0123456789ABCDEFull)), 0x0123456789ABCDEFull);
}

TEST(HammingJoinTest, OnePassUnderAGroupWithCrowdedBuckets) {
  std::vector<BitTransform> group = GridGroup();
  std::vector<uint64_t> codes;
  for (int i = 0; i < 150; ++i) codes.push_back(group[size_t(i % 8)].Apply(0xF0E1D2C3B4A59687ull));
  for (int i = 0; i < 150; ++i) codes.push_back(0xF0E1D2C3B4A59687ull ^ (uint64_t{1} << (i % 64)));
  std::vector<HammingGroupPair> expected =
      HammingPairsUnderGroupQuadratic(codes.data(), codes.size(), group, 2);
  ASSERT_EQ(expected.size(), 300u * 299u / 2u);
  for (size_t m : {2u, 4u, 8u})
    EXPECT_EQ(HammingPairsUnderGroupWithPlan(codes.data(), codes.size(), group, 2,
                                             SplitIntoBlocks(64, m, 2), 2),
              expected);
}

}  // namespace
}  // namespace imgsearch::index
