#include "index/hamming_join.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <utility>

#include "base/thread_pool.h"

namespace imgsearch::index {
namespace {

// A block's bucket table has 2^width + 1 entries: 16 MB at 22 bits.
constexpr int kMaxWidth = 22;
// What looking up one neighbouring bucket costs, in units of one comparison of two codes
// read in sequence (a random read of the bucket table against a streamed popcount).
constexpr double kProbeCost = 4;
// Work items per thread, so that a few crowded buckets do not leave a thread idle.
constexpr size_t kChunksPerThread = 16;

int Distance(const uint64_t* x, const uint64_t* y, size_t words) {
  int d = 0;
  for (size_t w = 0; w < words; ++w) d += std::popcount(x[w] ^ y[w]);
  return d;
}

// The pairs (i, j) of one-word codes a[i], b[j] within `max_distance` (j > i when
// `triangle`: a and b are one bucket). With the popcnt instruction where the CPU has it.
using NearPairs = std::vector<std::pair<uint32_t, uint32_t>>;

template <typename Popcount>
inline void ScanPairs(const uint64_t* a, size_t na, const uint64_t* b, size_t nb, bool triangle,
                      int max_distance, NearPairs* near, Popcount popcount) {
  for (size_t i = 0; i < na; ++i) {
    for (size_t j = triangle ? i + 1 : 0; j < nb; ++j) {
      if (popcount(a[i] ^ b[j]) <= max_distance) near->push_back({uint32_t(i), uint32_t(j)});
    }
  }
}

__attribute__((target("popcnt"))) void ScanPopcnt(const uint64_t* a, size_t na, const uint64_t* b,
                                                  size_t nb, bool triangle, int max_distance,
                                                  NearPairs* near) {
  ScanPairs(a, na, b, nb, triangle, max_distance, near,
            [](uint64_t x) { return __builtin_popcountll(x); });
}

void ScanScalar(const uint64_t* a, size_t na, const uint64_t* b, size_t nb, bool triangle,
                int max_distance, NearPairs* near) {
  ScanPairs(a, na, b, nb, triangle, max_distance, near,
            [](uint64_t x) { return std::popcount(x); });
}

using ScanFunction = void (*)(const uint64_t*, size_t, const uint64_t*, size_t, bool, int,
                              NearPairs*);

ScanFunction ScanKernel() {
  static const ScanFunction kernel = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("popcnt") ? ScanPopcnt : ScanScalar;
  }();
  return kernel;
}

uint32_t BlockValue(const uint64_t* code, const HammingBlock& block) {
  size_t word = block.first_bit / 64, shift = block.first_bit % 64;
  uint64_t v = code[word] >> shift;
  if (shift + size_t(block.width) > 64) v |= code[word + 1] << (64 - shift);
  return uint32_t(v & ((uint64_t{1} << block.width) - 1));
}

// How many values of `width` bits lie within `radius` bits of one value.
double BallVolume(int width, int radius) {
  double volume = 0, choose = 1;  // C(width, k)
  for (int k = 0; k <= std::min(radius, width); ++k) {
    volume += choose;
    choose = choose * (width - k) / (k + 1);
  }
  return volume;
}

// Every mask of `width` bits with 1 to `radius` bits set, each once.
std::vector<uint32_t> FlipMasks(int width, int radius) {
  std::vector<uint32_t> masks, level = {0};
  for (int k = 1; k <= std::min(radius, width); ++k) {
    std::vector<uint32_t> next;
    for (uint32_t m : level) {
      int above = m == 0 ? 0 : 32 - std::countl_zero(m);  // bits above m's highest one
      for (int bit = above; bit < width; ++bit) next.push_back(m | (uint32_t{1} << bit));
    }
    masks.insert(masks.end(), next.begin(), next.end());
    level = std::move(next);
  }
  return masks;
}

// The codes sorted by their value on one block (counting sort, so stable).
struct Buckets {
  std::vector<uint32_t> start;   // 2^width + 1 offsets into order
  std::vector<uint32_t> order;   // code indexes
  std::vector<uint64_t> codes;   // the codes in that order, for reading in sequence
  std::vector<uint32_t> values;  // the block values that some code has, ascending
};

Buckets Bucket(const uint64_t* codes, size_t n, size_t words, const HammingBlock& block) {
  Buckets b;
  b.start.assign((size_t{1} << block.width) + 1, 0);
  std::vector<uint32_t> value(n);
  for (size_t i = 0; i < n; ++i) ++b.start[(value[i] = BlockValue(codes + i * words, block)) + 1];
  for (size_t v = 0; v + 1 < b.start.size(); ++v) {
    if (b.start[v + 1] > 0) b.values.push_back(uint32_t(v));
    b.start[v + 1] += b.start[v];
  }
  b.order.resize(n);
  std::vector<uint32_t> next(b.start.begin(), b.start.end() - 1);
  for (size_t i = 0; i < n; ++i) b.order[next[value[i]]++] = uint32_t(i);
  b.codes.resize(n * words);
  for (size_t at = 0; at < n; ++at)
    std::copy_n(codes + size_t(b.order[at]) * words, words, b.codes.begin() + long(at * words));
  return b;
}

// One block's share of the join: the pairs within `max_distance` whose codes' values on
// block k are within its radius, and on no earlier block within that block's radius. A
// self join pairs the codes of `left` among themselves (a < b); a cross join pairs each
// code of `left` with each code of `right` at another index.
class BlockJoin {
 public:
  BlockJoin(const uint64_t* left, const uint64_t* right, size_t words, int max_distance,
            const std::vector<HammingBlock>& plan, size_t k)
      : left_(left),
        right_(right),
        self_(left == right),
        words_(words),
        max_distance_(max_distance),
        plan_(plan),
        k_(k) {}

  void Run(const Buckets& l, const Buckets& r, const std::vector<uint32_t>& masks, size_t first,
           size_t last, std::vector<HammingPair>* out) const {
    if (words_ == 1) return RunOneWord(l, r, masks, first, last, out);
    for (size_t at = first; at < last; ++at) {
      uint32_t u = l.values[at];
      uint32_t u_begin = l.start[u], u_end = l.start[u + 1];
      for (uint32_t i = u_begin; i < u_end; ++i) {
        if (self_)
          Compare(l, r, i, i + 1, u_end, out);
        else
          Compare(l, r, i, r.start[u], r.start[u + 1], out);
      }
      for (uint32_t mask : masks) {
        uint32_t v = u ^ mask;
        if ((self_ && v < u) || r.start[v] == r.start[v + 1]) continue;  // v < u: found from v
        for (uint32_t i = u_begin; i < u_end; ++i)
          Compare(l, r, i, r.start[v], r.start[v + 1], out);
      }
    }
  }

 private:
  // Run for one-word codes: one kernel call per pair of buckets.
  void RunOneWord(const Buckets& l, const Buckets& r, const std::vector<uint32_t>& masks,
                  size_t first, size_t last, std::vector<HammingPair>* out) const {
    ScanFunction scan = ScanKernel();
    NearPairs near;
    auto scan_with = [&](uint32_t u_begin, uint32_t u_end, uint32_t v_begin, uint32_t v_end,
                         bool triangle) {
      near.clear();
      scan(l.codes.data() + u_begin, u_end - u_begin, r.codes.data() + v_begin, v_end - v_begin,
           triangle, max_distance_, &near);
      for (auto [i, j] : near) {
        int d = std::popcount(l.codes[u_begin + i] ^ r.codes[v_begin + j]);
        Keep(l.order[u_begin + i], r.order[v_begin + j], d, out);
      }
    };
    for (size_t at = first; at < last; ++at) {
      uint32_t u = l.values[at];
      uint32_t u_begin = l.start[u], u_end = l.start[u + 1];
      if (r.start[u] != r.start[u + 1])
        scan_with(u_begin, u_end, r.start[u], r.start[u + 1], self_);
      for (uint32_t mask : masks) {
        uint32_t v = u ^ mask;
        if ((self_ && v < u) || r.start[v] == r.start[v + 1]) continue;  // v < u: found from v
        scan_with(u_begin, u_end, r.start[v], r.start[v + 1], false);
      }
    }
  }

  void Compare(const Buckets& l, const Buckets& r, uint32_t i, uint32_t first, uint32_t last,
               std::vector<HammingPair>* out) const {
    const uint64_t* x = l.codes.data() + size_t(i) * words_;
    if (words_ == 1) {
      for (uint32_t j = first; j < last; ++j) {
        int d = std::popcount(*x ^ r.codes[j]);
        if (d <= max_distance_) Keep(l.order[i], r.order[j], d, out);
      }
      return;
    }
    for (uint32_t j = first; j < last; ++j) {
      int d = Distance(x, r.codes.data() + size_t(j) * words_, words_);
      if (d <= max_distance_) Keep(l.order[i], r.order[j], d, out);
    }
  }

  void Keep(uint32_t a, uint32_t c, int distance, std::vector<HammingPair>* out) const {
    if (a == c) return;  // a code and its own transform
    const uint64_t *x = left_ + size_t(a) * words_, *y = right_ + size_t(c) * words_;
    for (size_t l = 0; l < k_; ++l) {
      const HammingBlock& block = plan_[l];
      if (block.radius >= 0 &&
          std::popcount(BlockValue(x, block) ^ BlockValue(y, block)) <= block.radius)
        return;  // an earlier block reported it
    }
    if (self_)
      out->push_back({std::min(a, c), std::max(a, c), distance});
    else
      out->push_back({a, c, distance});
  }

  const uint64_t* left_;
  const uint64_t* right_;
  bool self_;
  size_t words_;
  int max_distance_;
  const std::vector<HammingBlock>& plan_;
  size_t k_;
};

bool UsablePlan(const std::vector<HammingBlock>& plan, size_t words) {
  bool usable = !plan.empty();
  for (const HammingBlock& block : plan)
    usable &= block.width > 0 && block.width <= kMaxWidth &&
              block.first_bit + size_t(block.width) <= words * 64;
  return usable;
}

// The join of `left` with `right` (the same pointer: a self join) over every block.
std::vector<HammingPair> Join(const uint64_t* left, const uint64_t* right, size_t n, size_t words,
                              int max_distance, const std::vector<HammingBlock>& plan,
                              int threads) {
  threads = std::max(1, threads);
  base::ThreadPool pool(threads);
  std::vector<HammingPair> pairs;
  for (size_t k = 0; k < plan.size(); ++k) {
    if (plan[k].radius < 0) continue;
    Buckets l = Bucket(left, n, words, plan[k]);
    Buckets r = left == right ? Buckets{} : Bucket(right, n, words, plan[k]);
    const Buckets& rr = left == right ? l : r;
    std::vector<uint32_t> masks = FlipMasks(plan[k].width, plan[k].radius);
    BlockJoin join(left, right, words, max_distance, plan, k);
    size_t chunks = std::min(l.values.size(), size_t(threads) * kChunksPerThread);
    std::vector<std::vector<HammingPair>> found(chunks);
    pool.ParallelFor(chunks, [&](size_t c) {
      size_t values = l.values.size();
      join.Run(l, rr, masks, values * c / chunks, values * (c + 1) / chunks, &found[c]);
    });
    for (const auto& f : found) pairs.insert(pairs.end(), f.begin(), f.end());
  }
  return pairs;
}

void SortPairs(std::vector<HammingPair>* pairs) {
  std::sort(pairs->begin(), pairs->end(), [](const HammingPair& x, const HammingPair& y) {
    return x.a != y.a ? x.a < y.a : x.b < y.b;
  });
}

}  // namespace

std::vector<HammingBlock> SplitIntoBlocks(size_t bits, size_t m, int max_distance) {
  long total = long(max_distance) - long(m) + 1;  // the radii must add up to this
  long base = total >= 0 ? total / long(m) : -((-total + long(m) - 1) / long(m));
  long extra = total - base * long(m);  // 0..m-1 blocks get one bit more: the widest
  std::vector<HammingBlock> blocks(m);
  size_t first_bit = 0;
  for (size_t i = 0; i < m; ++i) {
    HammingBlock& block = blocks[i];
    block.first_bit = first_bit;
    block.width = int(bits / m + (i < bits % m ? 1 : 0));
    block.radius = int(std::min<long>(base + (long(i) < extra ? 1 : 0), block.width));
    first_bit += size_t(block.width);
  }
  return blocks;
}

std::vector<HammingBlock> HammingJoinPlan(size_t n, size_t bits, int max_distance) {
  double pairs = 0.5 * double(n) * double(n);
  double best = pairs * 0.9;  // the quadratic search, whose loop is the simplest
  std::vector<HammingBlock> plan;
  for (size_t m = 1; m <= bits && m <= 64; ++m) {
    if ((bits + m - 1) / m > size_t(kMaxWidth)) continue;
    std::vector<HammingBlock> blocks = SplitIntoBlocks(bits, m, max_distance);
    double cost = 2 * double(n) * double(m);  // bucketing
    for (const HammingBlock& block : blocks) {
      if (block.radius < 0) continue;
      double buckets = std::ldexp(1.0, block.width);
      double volume = BallVolume(block.width, block.radius);
      cost += volume * (std::min(buckets, double(n)) * kProbeCost + pairs / buckets);
    }
    if (cost < best) {
      best = cost;
      plan = std::move(blocks);
    }
  }
  return plan;
}

std::vector<HammingPair> HammingPairsQuadratic(const uint64_t* codes, size_t n, size_t words,
                                               int max_distance) {
  std::vector<HammingPair> pairs;
  for (size_t a = 0; a < n; ++a) {
    const uint64_t* x = codes + a * words;
    for (size_t b = a + 1; b < n; ++b) {
      int d = Distance(x, codes + b * words, words);
      if (d <= max_distance) pairs.push_back({uint32_t(a), uint32_t(b), d});
    }
  }
  return pairs;
}

std::vector<HammingPair> HammingPairs(const uint64_t* codes, size_t n, size_t words, size_t bits,
                                      int max_distance, int threads) {
  if (max_distance < 0 || n < 2) return {};
  return HammingPairsWithPlan(codes, n, words, max_distance,
                              HammingJoinPlan(n, std::min(bits, words * 64), max_distance),
                              threads);
}

std::vector<HammingPair> HammingPairsWithPlan(const uint64_t* codes, size_t n, size_t words,
                                              int max_distance,
                                              const std::vector<HammingBlock>& plan, int threads) {
  if (max_distance < 0 || n < 2) return {};
  if (!UsablePlan(plan, words)) return HammingPairsQuadratic(codes, n, words, max_distance);
  std::vector<HammingPair> pairs = Join(codes, codes, n, words, max_distance, plan, threads);
  SortPairs(&pairs);
  return pairs;
}

std::vector<HammingPair> HammingPairsAcross(const uint64_t* codes, const uint64_t* transformed,
                                            size_t n, size_t words, size_t bits, int max_distance,
                                            int threads) {
  if (max_distance < 0 || n < 2) return {};
  std::vector<HammingBlock> plan = HammingJoinPlan(n, std::min(bits, words * 64), max_distance);
  return HammingPairsAcrossWithPlan(codes, transformed, n, words, max_distance, plan, threads);
}

std::vector<HammingPair> HammingPairsAcrossWithPlan(const uint64_t* codes,
                                                    const uint64_t* transformed, size_t n,
                                                    size_t words, int max_distance,
                                                    const std::vector<HammingBlock>& plan,
                                                    int threads) {
  if (max_distance < 0 || n < 2) return {};
  if (!UsablePlan(plan, words))
    return HammingPairsAcrossQuadratic(codes, transformed, n, words, max_distance);
  std::vector<HammingPair> pairs = Join(codes, transformed, n, words, max_distance, plan, threads);
  SortPairs(&pairs);
  return pairs;
}

std::vector<HammingPair> HammingPairsAcrossQuadratic(const uint64_t* codes,
                                                     const uint64_t* transformed, size_t n,
                                                     size_t words, int max_distance) {
  std::vector<HammingPair> pairs;
  for (size_t a = 0; a < n; ++a) {
    for (size_t b = 0; b < n; ++b) {
      int d = Distance(codes + a * words, transformed + b * words, words);
      if (a != b && d <= max_distance) pairs.push_back({uint32_t(a), uint32_t(b), d});
    }
  }
  return pairs;
}

}  // namespace imgsearch::index
