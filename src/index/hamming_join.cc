#include "index/hamming_join.h"

#include <immintrin.h>
#include <algorithm>
#include <bit>
#include <cmath>
#include <numeric>
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
// How many buckets ahead the group join asks for the codes of the bucket it will compare.
constexpr size_t kPrefetchAhead = 8;

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

// The triangle (j > i) of one bucket against itself, eight codes of b at a time.
__attribute__((target("avx512f,avx512vpopcntdq"))) void ScanTriangleAvx512(
    const uint64_t* a, size_t na, const uint64_t* b, size_t nb, int max_distance, NearPairs* near) {
  const __m512i limit = _mm512_set1_epi64(max_distance);
  for (size_t i = 0; i < na; ++i) {
    const __m512i q = _mm512_set1_epi64(static_cast<long long>(a[i]));
    for (size_t j = i + 1; j < nb; j += 8) {
      const __mmask8 valid = nb - j >= 8 ? __mmask8(0xFF) : __mmask8((1u << (nb - j)) - 1);
      const __m512i x = _mm512_maskz_loadu_epi64(valid, b + j);
      const __m512i bits = _mm512_popcnt_epi64(_mm512_xor_si512(q, x));
      unsigned hit = _mm512_mask_cmple_epu64_mask(valid, bits, limit);
      for (; hit != 0; hit &= hit - 1)
        near->push_back({uint32_t(i), uint32_t(j + size_t(std::countr_zero(hit)))});
    }
  }
}

// Sixteen codes of b at a time against every code of a: one xor, one popcount and one
// minimum per eight comparisons, and the codes of a that match looked for only where the
// smallest distance is within max_distance (rarely: most bucket pairs hold no pair).
__attribute__((target("avx512f,avx512vpopcntdq"))) void ScanAvx512(const uint64_t* a, size_t na,
                                                                   const uint64_t* b, size_t nb,
                                                                   bool triangle, int max_distance,
                                                                   NearPairs* near) {
  if (triangle) return ScanTriangleAvx512(a, na, b, nb, max_distance, near);
  const __m512i limit = _mm512_set1_epi64(max_distance);
  for (size_t j = 0; j < nb; j += 16) {
    const size_t left = nb - j;
    const __mmask8 valid0 = left >= 8 ? __mmask8(0xFF) : __mmask8((1u << left) - 1);
    const __mmask8 valid1 = left >= 16 ? __mmask8(0xFF)
                            : left > 8 ? __mmask8((1u << (left - 8)) - 1)
                                       : __mmask8(0);
    const __m512i x0 = _mm512_maskz_loadu_epi64(valid0, b + j);
    const __m512i x1 = _mm512_maskz_loadu_epi64(valid1, b + j + 8);
    __m512i best0 = _mm512_set1_epi64(64), best1 = best0;
    for (size_t i = 0; i < na; ++i) {
      const __m512i q = _mm512_set1_epi64(static_cast<long long>(a[i]));
      // The masked form: GCC 12 warns of an undefined register in the plain one.
      best0 =
          _mm512_mask_min_epu64(best0, 0xFF, best0, _mm512_popcnt_epi64(_mm512_xor_si512(q, x0)));
      best1 =
          _mm512_mask_min_epu64(best1, 0xFF, best1, _mm512_popcnt_epi64(_mm512_xor_si512(q, x1)));
    }
    const unsigned hit = unsigned(_mm512_mask_cmple_epu64_mask(valid0, best0, limit)) |
                         unsigned(_mm512_mask_cmple_epu64_mask(valid1, best1, limit)) << 8;
    if (hit == 0) continue;
    for (size_t i = 0; i < na; ++i) {
      for (unsigned h = hit; h != 0; h &= h - 1) {
        const size_t at = j + size_t(std::countr_zero(h));
        if (std::popcount(a[i] ^ b[at]) <= max_distance)
          near->push_back({uint32_t(i), uint32_t(at)});
      }
    }
  }
}

using ScanFunction = void (*)(const uint64_t*, size_t, const uint64_t*, size_t, bool, int,
                              NearPairs*);

ScanFunction ScanKernel() {
  static const ScanFunction kernel = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vpopcntdq"))
      return ScanAvx512;
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

// The codes sorted by value[i] < 2^width, each code's value on a block.
Buckets Bucket(const uint64_t* codes, size_t n, size_t words, int width,
               const std::vector<uint32_t>& value) {
  Buckets b;
  b.start.assign((size_t{1} << width) + 1, 0);
  for (size_t i = 0; i < n; ++i) ++b.start[value[i] + 1];
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

// One block's share of the self join: the pairs (a < b) within `max_distance` whose codes'
// values on block k are within its radius, and on no earlier block within that block's
// radius.
class BlockJoin {
 public:
  BlockJoin(const uint64_t* codes, size_t words, int max_distance,
            const std::vector<HammingBlock>& plan, size_t k)
      : codes_(codes), words_(words), max_distance_(max_distance), plan_(plan), k_(k) {}

  void Run(const Buckets& t, const std::vector<uint32_t>& masks, size_t first, size_t last,
           std::vector<HammingPair>* out) const {
    if (words_ == 1) return RunOneWord(t, masks, first, last, out);
    for (size_t at = first; at < last; ++at) {
      uint32_t u = t.values[at];
      uint32_t u_begin = t.start[u], u_end = t.start[u + 1];
      for (uint32_t i = u_begin; i < u_end; ++i) Compare(t, i, i + 1, u_end, out);
      for (uint32_t mask : masks) {
        uint32_t v = u ^ mask;
        if (v < u || t.start[v] == t.start[v + 1]) continue;  // v < u: found from v
        for (uint32_t i = u_begin; i < u_end; ++i) Compare(t, i, t.start[v], t.start[v + 1], out);
      }
    }
  }

 private:
  // Run for one-word codes: one kernel call per pair of buckets.
  void RunOneWord(const Buckets& t, const std::vector<uint32_t>& masks, size_t first, size_t last,
                  std::vector<HammingPair>* out) const {
    ScanFunction scan = ScanKernel();
    NearPairs near;
    auto scan_with = [&](uint32_t u_begin, uint32_t u_end, uint32_t v_begin, uint32_t v_end,
                         bool triangle) {
      near.clear();
      scan(t.codes.data() + u_begin, u_end - u_begin, t.codes.data() + v_begin, v_end - v_begin,
           triangle, max_distance_, &near);
      for (auto [i, j] : near) {
        int d = std::popcount(t.codes[u_begin + i] ^ t.codes[v_begin + j]);
        Keep(t.order[u_begin + i], t.order[v_begin + j], d, out);
      }
    };
    for (size_t at = first; at < last; ++at) {
      uint32_t u = t.values[at];
      uint32_t u_begin = t.start[u], u_end = t.start[u + 1];
      scan_with(u_begin, u_end, u_begin, u_end, true);
      for (uint32_t mask : masks) {
        uint32_t v = u ^ mask;
        if (v < u || t.start[v] == t.start[v + 1]) continue;  // v < u: found from v
        scan_with(u_begin, u_end, t.start[v], t.start[v + 1], false);
      }
    }
  }

  void Compare(const Buckets& t, uint32_t i, uint32_t first, uint32_t last,
               std::vector<HammingPair>* out) const {
    const uint64_t* x = t.codes.data() + size_t(i) * words_;
    for (uint32_t j = first; j < last; ++j) {
      int d = Distance(x, t.codes.data() + size_t(j) * words_, words_);
      if (d <= max_distance_) Keep(t.order[i], t.order[j], d, out);
    }
  }

  void Keep(uint32_t a, uint32_t c, int distance, std::vector<HammingPair>* out) const {
    const uint64_t *x = codes_ + size_t(a) * words_, *y = codes_ + size_t(c) * words_;
    for (size_t l = 0; l < k_; ++l) {
      const HammingBlock& block = plan_[l];
      if (block.radius >= 0 &&
          std::popcount(BlockValue(x, block) ^ BlockValue(y, block)) <= block.radius)
        return;  // an earlier block reported it
    }
    out->push_back({std::min(a, c), std::max(a, c), distance});
  }

  const uint64_t* codes_;
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

// The self join of the codes over every block.
std::vector<HammingPair> Join(const uint64_t* codes, size_t n, size_t words, int max_distance,
                              const std::vector<HammingBlock>& plan, int threads) {
  threads = std::max(1, threads);
  base::ThreadPool pool(threads);
  std::vector<HammingPair> pairs;
  std::vector<uint32_t> value(n);
  for (size_t k = 0; k < plan.size(); ++k) {
    if (plan[k].radius < 0) continue;
    for (size_t i = 0; i < n; ++i) value[i] = BlockValue(codes + i * words, plan[k]);
    const Buckets table = Bucket(codes, n, words, plan[k].width, value);
    const std::vector<uint32_t> masks = FlipMasks(plan[k].width, plan[k].radius);
    const BlockJoin join(codes, words, max_distance, plan, k);
    const size_t values = table.values.size();
    const size_t chunks = std::min(values, size_t(threads) * kChunksPerThread);
    std::vector<std::vector<HammingPair>> found(chunks);
    pool.ParallelFor(chunks, [&](size_t c) {
      join.Run(table, masks, values * c / chunks, values * (c + 1) / chunks, &found[c]);
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

// 64-bit code -> 64-bit word through one table per input byte (each entry the output bits
// that byte sets): a BitTransform, or the gathering of a block's bits into its value.
class ByteTables {
 public:
  ByteTables() = default;
  // Output bit `to[p]` is set by input bit p (to[p] < 0: p sets none); then xor `flip`.
  ByteTables(const std::array<int, 64>& to, uint64_t flip) : flip_(flip) {
    for (int byte = 0; byte < 8; ++byte) {
      for (int value = 0; value < 256; ++value) {
        uint64_t out = 0;
        for (int bit = 0; bit < 8; ++bit) {
          int p = 8 * byte + bit;
          if ((value >> bit & 1) && to[size_t(p)] >= 0) out |= uint64_t{1} << to[size_t(p)];
        }
        table_[size_t(byte)][size_t(value)] = out;
      }
    }
  }
  uint64_t operator()(uint64_t code) const {
    uint64_t out = 0;
    for (size_t byte = 0; byte < 8; ++byte) out |= table_[byte][(code >> (8 * byte)) & 0xFF];
    return out ^ flip_;
  }

 private:
  std::array<std::array<uint64_t, 256>, 8> table_{};
  uint64_t flip_ = 0;
};

ByteTables TransformTables(const BitTransform& t) {
  std::array<int, 64> to;
  to.fill(-1);
  // A permutation: input bit source[i] lands on output bit i.
  for (int i = 0; i < 64; ++i) to[t.source[size_t(i)]] = i;
  return ByteTables(to, t.flip);
}

// The value of a block (its positions in `mask`, lowest first) as a number.
ByteTables GatherTables(uint64_t mask) {
  std::array<int, 64> to;
  to.fill(-1);
  int next = 0;
  for (int p = 0; p < 64; ++p)
    if (mask >> p & 1) to[size_t(p)] = next++;
  return ByteTables(to, 0);
}

bool IsIdentity(const BitTransform& t) {
  for (int i = 0; i < 64; ++i)
    if (t.source[size_t(i)] != i) return false;
  return t.flip == 0;
}

BitTransform Compose(const BitTransform& outer, const BitTransform& inner) {  // outer(inner(x))
  BitTransform c;
  for (size_t i = 0; i < 64; ++i) {
    c.source[i] = inner.source[outer.source[i]];
    uint64_t inner_flip = inner.flip >> outer.source[i] & 1, outer_flip = outer.flip >> i & 1;
    c.flip |= (inner_flip ^ outer_flip) << i;
  }
  return c;
}

// Blocks of the given widths made of whole orbits of the group's bit positions (positions
// that the transforms carry into one another), dealt in turn from the lowest position, so
// that every transform maps each block onto itself. Widths can end one or two bits off
// when orbits do not fit exactly; empty when a block would exceed kMaxWidth.
std::vector<uint64_t> OrbitBlocks(const std::vector<BitTransform>& group,
                                  const std::vector<HammingBlock>& plan) {
  std::array<int, 64> root;
  std::iota(root.begin(), root.end(), 0);
  auto find = [&](int x) {
    while (root[size_t(x)] != x) x = root[size_t(x)] = root[size_t(root[size_t(x)])];
    return x;
  };
  for (const BitTransform& t : group)
    for (int i = 0; i < 64; ++i) root[size_t(find(i))] = find(t.source[size_t(i)]);
  std::vector<uint64_t> orbits;  // by lowest position
  std::array<int, 64> orbit_of;
  orbit_of.fill(-1);
  for (int p = 0; p < 64; ++p) {
    int r = find(p);
    if (orbit_of[size_t(r)] < 0) orbit_of[size_t(r)] = int(orbits.size()), orbits.push_back(0);
    orbits[size_t(orbit_of[size_t(r)])] |= uint64_t{1} << p;
  }
  std::vector<uint64_t> blocks(plan.size(), 0);
  size_t turn = 0;
  for (uint64_t orbit : orbits) {
    int size = std::popcount(orbit);
    size_t chosen = plan.size();
    for (size_t k = 0; k < plan.size() && chosen == plan.size(); ++k) {
      size_t b = (turn + k) % plan.size();
      if (std::popcount(blocks[b]) + size <= plan[b].width) chosen = b;
    }
    if (chosen == plan.size()) {  // none has room: the least filled
      chosen = 0;
      for (size_t b = 1; b < plan.size(); ++b)
        if (std::popcount(blocks[b]) - plan[b].width <
            std::popcount(blocks[chosen]) - plan[chosen].width)
          chosen = b;
    }
    blocks[chosen] |= orbit;
    turn = chosen + 1;
  }
  for (uint64_t b : blocks)
    if (std::popcount(b) > kMaxWidth || b == 0) return {};
  return blocks;
}

// Which transforms are searched: each that undoes itself, with pruning (symmetric), and
// of each other pair of mutual inverses the first.
struct Searched {
  size_t transform = 0;
  bool symmetric = false;
};

std::vector<Searched> SearchedTransforms(const std::vector<BitTransform>& group) {
  std::vector<Searched> searched;
  std::vector<bool> covered(group.size(), false);
  for (size_t s = 0; s < group.size(); ++s) {
    if (covered[s]) continue;
    covered[s] = true;
    bool symmetric = IsIdentity(Compose(group[s], group[s]));
    if (!symmetric) {
      for (size_t t = s + 1; t < group.size(); ++t)
        if (IsIdentity(Compose(group[s], group[t]))) covered[t] = true;
    }
    searched.push_back({s, symmetric});
  }
  return searched;
}

// The pairs (as a < b) whose codes are within `max_distance` under the transform, found
// from one block's buckets u in [first, last) of its values.
void GroupBlockJoin(const Buckets& table, const ByteTables& gather,
                    const std::vector<ByteTables>& transforms,
                    const std::vector<Searched>& searched, const std::vector<uint32_t>& masks,
                    int max_distance, size_t first, size_t last,
                    std::vector<std::pair<uint32_t, uint32_t>>* out) {
  ScanFunction scan = ScanKernel();
  NearPairs near;
  std::vector<uint64_t> turned;
  for (size_t at = first; at < last; ++at) {
    const uint32_t u = table.values[at];
    const uint32_t u_begin = table.start[u], u_end = table.start[u + 1];
    const uint64_t* codes = table.codes.data() + u_begin;
    const size_t nu = u_end - u_begin;
    turned.resize(nu);
    for (const Searched& s : searched) {
      const ByteTables& t = transforms[s.transform];
      for (size_t i = 0; i < nu; ++i) turned[i] = t(codes[i]);
      // The block maps onto itself: every code of the bucket turns into one value.
      const uint32_t center = uint32_t(gather(turned[0]));
      auto compare = [&](uint32_t v) {
        if (s.symmetric && v < u) return;  // (v, u) finds the pair
        const uint32_t v_begin = table.start[v], v_end = table.start[v + 1];
        if (v_begin == v_end) return;
        const bool triangle = s.symmetric && v == u;
        near.clear();
        scan(turned.data(), nu, table.codes.data() + v_begin, v_end - v_begin, triangle,
             max_distance, &near);
        for (auto [i, j] : near) {
          uint32_t a = table.order[u_begin + i], b = table.order[v_begin + j];
          if (a != b) out->push_back({std::min(a, b), std::max(a, b)});
        }
      };
      compare(center);
      for (size_t m = 0; m < masks.size(); ++m) {
        if (m + kPrefetchAhead < masks.size()) {  // the buckets lie all over the table
          const uint64_t* ahead =
              table.codes.data() + table.start[center ^ masks[m + kPrefetchAhead]];
          __builtin_prefetch(ahead);
          __builtin_prefetch(ahead + 8);
        }
        compare(center ^ masks[m]);
      }
    }
  }
}

// Distance and transform of a found pair: the smallest over the group, the first on ties.
HammingGroupPair Closest(const uint64_t* codes, uint32_t a, uint32_t b,
                         const std::vector<ByteTables>& transforms) {
  HammingGroupPair p{a, b, 65, 0};
  for (size_t t = 0; t < transforms.size(); ++t) {
    int d = std::popcount(codes[a] ^ transforms[t](codes[b]));
    if (d < p.distance) p.distance = d, p.transform = int(t);
  }
  return p;
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
  std::vector<HammingPair> pairs = Join(codes, n, words, max_distance, plan, threads);
  SortPairs(&pairs);
  return pairs;
}

BitTransform BitTransform::Identity() {
  BitTransform t;
  std::iota(t.source.begin(), t.source.end(), uint8_t{0});
  return t;
}

uint64_t BitTransform::Apply(uint64_t code) const {
  uint64_t out = 0;
  for (size_t i = 0; i < 64; ++i) out |= (code >> source[i] & 1) << i;
  return out ^ flip;
}

std::vector<HammingGroupPair> HammingPairsUnderGroupQuadratic(
    const uint64_t* codes, size_t n, const std::vector<BitTransform>& group, int max_distance) {
  std::vector<HammingGroupPair> pairs;
  if (max_distance < 0) return pairs;
  std::vector<uint64_t> turned(n * group.size());
  for (size_t i = 0; i < n; ++i)
    for (size_t t = 0; t < group.size(); ++t)
      turned[i * group.size() + t] = group[t].Apply(codes[i]);
  for (size_t a = 0; a < n; ++a) {
    for (size_t b = a + 1; b < n; ++b) {
      HammingGroupPair p{uint32_t(a), uint32_t(b), 65, 0};
      for (size_t t = 0; t < group.size(); ++t) {
        int d = std::popcount(codes[a] ^ turned[b * group.size() + t]);
        if (d < p.distance) p.distance = d, p.transform = int(t);
      }
      if (p.distance <= max_distance) pairs.push_back(p);
    }
  }
  return pairs;
}

std::vector<HammingGroupPair> HammingPairsUnderGroup(const uint64_t* codes, size_t n,
                                                     const std::vector<BitTransform>& group,
                                                     int max_distance, int threads) {
  if (max_distance < 0 || n < 2) return {};
  return HammingPairsUnderGroupWithPlan(codes, n, group, max_distance,
                                        HammingJoinPlan(n, 64, max_distance), threads);
}

std::vector<HammingGroupPair> HammingPairsUnderGroupWithPlan(const uint64_t* codes, size_t n,
                                                             const std::vector<BitTransform>& group,
                                                             int max_distance,
                                                             const std::vector<HammingBlock>& plan,
                                                             int threads) {
  if (max_distance < 0 || n < 2) return {};
  std::vector<uint64_t> blocks = plan.empty() ? std::vector<uint64_t>{} : OrbitBlocks(group, plan);
  if (blocks.empty()) return HammingPairsUnderGroupQuadratic(codes, n, group, max_distance);
  threads = std::max(1, threads);
  base::ThreadPool pool(threads);
  std::vector<ByteTables> transforms;
  for (const BitTransform& t : group) transforms.push_back(TransformTables(t));
  const std::vector<Searched> searched = SearchedTransforms(group);
  std::vector<std::pair<uint32_t, uint32_t>> found;
  std::vector<uint32_t> value(n);
  for (size_t k = 0; k < plan.size(); ++k) {
    if (plan[k].radius < 0) continue;
    const int width = std::popcount(blocks[k]);
    const ByteTables gather = GatherTables(blocks[k]);
    for (size_t i = 0; i < n; ++i) value[i] = uint32_t(gather(codes[i]));
    const Buckets table = Bucket(codes, n, 1, width, value);
    const std::vector<uint32_t> masks = FlipMasks(width, plan[k].radius);
    const size_t values = table.values.size();
    const size_t chunks = std::min(values, size_t(threads) * kChunksPerThread);
    std::vector<std::vector<std::pair<uint32_t, uint32_t>>> parts(chunks);
    pool.ParallelFor(chunks, [&](size_t c) {
      GroupBlockJoin(table, gather, transforms, searched, masks, max_distance, values * c / chunks,
                     values * (c + 1) / chunks, &parts[c]);
    });
    for (const auto& part : parts) found.insert(found.end(), part.begin(), part.end());
  }
  std::sort(found.begin(), found.end());
  found.erase(std::unique(found.begin(), found.end()), found.end());
  std::vector<HammingGroupPair> pairs;
  pairs.reserve(found.size());
  for (auto [a, b] : found) pairs.push_back(Closest(codes, a, b, transforms));
  return pairs;
}

}  // namespace imgsearch::index
