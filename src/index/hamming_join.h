// Every pair of binary codes within a Hamming distance, without comparing every pair
// (multi-index hashing). The codes are split into m blocks of bits; by the pigeonhole
// principle two codes within d bits are within r_i bits on at least one block i whenever
// sum(r_i) >= d - m + 1. Each block buckets the codes by their value there and compares
// only codes whose buckets lie within r_i bits of each other; a pair is reported by the
// first block that finds it. The number of blocks is chosen per call from a cost model; the
// answer does not depend on it. Thread-safe (no shared state).
#pragma once

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

// Every pair (a, b), a != b, with code a of `codes` and code b of `transformed` within
// `max_distance` bits (all ordered pairs: (b, a) is another pair), sorted by (a, b). For
// codes matched against a transformed copy of themselves (a rotated picture's hash).
std::vector<HammingPair> HammingPairsAcross(const uint64_t* codes, const uint64_t* transformed,
                                            size_t n, size_t words, size_t bits, int max_distance,
                                            int threads = 1);
std::vector<HammingPair> HammingPairsAcrossQuadratic(const uint64_t* codes,
                                                     const uint64_t* transformed, size_t n,
                                                     size_t words, int max_distance);

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
std::vector<HammingPair> HammingPairsAcrossWithPlan(const uint64_t* codes,
                                                    const uint64_t* transformed, size_t n,
                                                    size_t words, int max_distance,
                                                    const std::vector<HammingBlock>& plan,
                                                    int threads = 1);

}  // namespace imgsearch::index
