// Every pair of binary codes within a Hamming distance, without comparing every pair
// (multi-index hashing). The codes are split into m blocks of bits; by the pigeonhole
// principle two codes within d bits are within r_i bits on at least one block i whenever
// sum(r_i) >= d - m + 1. Each block buckets the codes by their value there and compares
// only codes whose buckets lie within r_i bits of each other; a pair is reported by the
// first block that finds it. The number of blocks is chosen per call from a cost model; the
// answer does not depend on it. Thread-safe (no shared state).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace imgsearch::index {

// Two codes, as indexes a < b into the array, and the bits they differ in.
struct HammingPair {
  uint32_t a = 0;
  uint32_t b = 0;
  int distance = 0;

  bool operator==(const HammingPair&) const = default;
};

// Codes are `words` 64-bit words each, one after another; only the first `bits` bits of a
// code count (the rest must be zero). Both functions return the same pairs, sorted by
// (a, b). `threads` > 1 splits the work over that many threads.
std::vector<HammingPair> HammingPairs(const uint64_t* codes, size_t n, size_t words, size_t bits,
                                      int max_distance, int threads = 1);
// The reference: one popcount per pair of codes.
std::vector<HammingPair> HammingPairsQuadratic(const uint64_t* codes, size_t n, size_t words,
                                               int max_distance);

// How HammingPairs splits codes of `bits` bits: the blocks' first bits, widths and radii
// (a radius below 0: the block is not searched; the radii add up to max_distance - m + 1).
struct HammingBlock {
  size_t first_bit = 0;
  int width = 0;
  int radius = 0;
};
// `m` blocks of (next to) equal width, the wider ones first with the larger radii.
std::vector<HammingBlock> SplitIntoBlocks(size_t bits, size_t m, int max_distance);
// The split HammingPairs uses for `n` codes, by a cost model; empty when the quadratic
// search is cheaper.
std::vector<HammingBlock> HammingJoinPlan(size_t n, size_t bits, int max_distance);
// HammingPairs with a given split (for tests and benchmarks); empty: quadratic. Blocks are
// at most 22 bits wide.
std::vector<HammingPair> HammingPairsWithPlan(const uint64_t* codes, size_t n, size_t words,
                                              int max_distance,
                                              const std::vector<HammingBlock>& plan,
                                              int threads = 1);
// A rearrangement of the bits of 64-bit codes, some of them inverted: bit i of the result
// is bit source[i] of the code, inverted where `flip` has a one. It keeps Hamming distances
// (a rotated or mirrored picture's phash is one of the original's: model/dihedral.h).
struct BitTransform {
  std::array<uint8_t, 64> source{};
  uint64_t flip = 0;

  static BitTransform Identity();
  uint64_t Apply(uint64_t code) const;  // bit by bit; the join uses tables
};

// Two one-word codes, a < b, within a distance under some transform of a group: the
// smallest distance popcount(code_a ^ T(code_b)) over the group's transforms T, and the
// first transform (index into the group) that gives it.
struct HammingGroupPair {
  uint32_t a = 0;
  uint32_t b = 0;
  int distance = 0;
  int transform = 0;

  bool operator==(const HammingGroupPair&) const = default;
};

// Every pair of one-word codes within `max_distance` bits under some transform of `group`
// (closed under composition and inverses, the identity first), sorted by (a, b): the
// upright search and the searches of every transformed copy in one pass. Multi-index
// hashing over blocks that the group maps onto themselves (unions of the orbits of its bit
// positions), so that one table per block serves every transform: each bucket is looked up
// with each transform of its codes; a transform that undoes itself (a mirroring, the half
// turn) finds a pair from either code, so only bucket pairs (u, v) with u <= v are compared
// under it, and of a transform and its inverse (the quarter turns) only one is searched.
// Candidates are compared eight at a time where the CPU has AVX-512 popcounts.
std::vector<HammingGroupPair> HammingPairsUnderGroup(const uint64_t* codes, size_t n,
                                                     const std::vector<BitTransform>& group,
                                                     int max_distance, int threads = 1);
// The reference: every pair under every transform.
std::vector<HammingGroupPair> HammingPairsUnderGroupQuadratic(
    const uint64_t* codes, size_t n, const std::vector<BitTransform>& group, int max_distance);
// With the blocks' widths and radii given (their first bits are not used: each block takes
// whole orbits, dealt in turn); empty: quadratic.
std::vector<HammingGroupPair> HammingPairsUnderGroupWithPlan(const uint64_t* codes, size_t n,
                                                             const std::vector<BitTransform>& group,
                                                             int max_distance,
                                                             const std::vector<HammingBlock>& plan,
                                                             int threads = 1);

}  // namespace imgsearch::index
