// The duplicates' candidate and grouping stage at a million images. Hashes are 64-bit:
// the real photos' phashes (with --images), synthetic photos around them (each a real hash
// with 16-24 of its bits flipped, so that the synthetic library has the real one's uneven
// layout; uniform random bits without --images), and planted near copies (one in 20 is an
// earlier hash with 0-8 bits flipped). Measured on all N hashes: the multi-index candidate
// search (index/hamming_join.h) and the grouping (pipeline::LinkGroups), as
// `imgsearch duplicates --confirm-model none` runs them after reading the hashes. The
// reference, in the same run: the quadratic search on a sample of the first S hashes, which
// must give exactly the same pairs and the same groups; its time at N is extrapolated
// (x (N/S)^2), never run.
//
// With --rotations on, also the search for rotated and mirrored copies that `imgsearch
// duplicates` runs by default: the hashes against each of six transforms of them (the
// quarter turns are each other's inverse), checked against the quadratic cross search on
// the sample.
//
//   duplicates_scale_bench [--hashes N] [--sample S] [--hash-distance D] [--images DIR]
//                          [--threads T] [--rotations on]
#include <cstdio>
#include <map>
#include <random>

#include "base/cpu.h"
#include "bench_util.h"
#include "imgsearch/embedder.h"
#include "index/hamming_join.h"
#include "model/dihedral.h"
#include "pipeline/duplicates.h"

namespace imgsearch::bench {
namespace {

// The photos' phashes, packed as the duplicates pipeline packs them (byte b at bits 8b).
std::vector<uint64_t> RealHashes(const std::string& dir) {
  std::vector<uint64_t> hashes;
  auto embedder = Embedder::Open("phash");
  if (!embedder.ok())
    return std::fprintf(stderr, "%s\n", embedder.status().ToString().c_str()), hashes;
  for (const std::string& path : ListImages(dir, size_t(-1))) {
    auto image = LoadImage(path, (*embedder)->decode_options());
    if (!image.ok()) continue;
    auto e = (*embedder)->Embed(std::span<const Image>(&*image, 1));
    if (!e.ok()) continue;
    uint64_t h = 0;
    for (size_t b = 0; b < 8; ++b) h |= uint64_t(e->bits[b]) << (8 * b);
    hashes.push_back(h);
  }
  return hashes;
}

std::vector<uint64_t> MakeHashes(size_t n, const std::vector<uint64_t>& real, unsigned seed) {
  std::mt19937_64 random(seed);
  auto flip = [&](uint64_t h, int bits) {
    for (int i = 0; i < bits; ++i) h ^= uint64_t{1} << (random() % 64);
    return h;
  };
  std::vector<uint64_t> hashes(real.begin(), real.begin() + long(std::min(real.size(), n)));
  while (hashes.size() < n) {
    if (hashes.size() > 1 && random() % 20 == 0) {
      hashes.push_back(flip(hashes[random() % hashes.size()], int(random() % 9)));
    } else if (!real.empty()) {
      hashes.push_back(flip(real[random() % real.size()], 16 + int(random() % 9)));
    } else {
      hashes.push_back(random());
    }
  }
  std::shuffle(hashes.begin(), hashes.end(), random);
  return hashes;
}

struct Grouped {
  std::vector<size_t> label;  // per hash: the smallest member of its group (itself if alone)
  size_t groups = 0;
  double seconds = 0;
};

Grouped Group(size_t n, const std::vector<index::HammingPair>& found) {
  double start = Seconds();
  std::vector<pipeline::Pair> pairs;
  pairs.reserve(found.size());
  for (const index::HammingPair& p : found) pairs.push_back({p.a, p.b, p.distance, 1});
  pipeline::DisjointSets sets(n);
  pipeline::LinkGroups(std::move(pairs), &sets);
  Grouped g;
  g.seconds = Seconds() - start;
  std::map<size_t, size_t> smallest, size;
  for (size_t i = 0; i < n; ++i) {
    size_t root = sets.Find(i);
    smallest.emplace(root, i);
    ++size[root];
  }
  for (size_t i = 0; i < n; ++i) g.label.push_back(smallest[sets.Find(i)]);
  for (const auto& [root, s] : size) g.groups += s > 1;
  return g;
}

// The six cross searches of the rotated copies: on the sample against the quadratic cross
// search, then on all hashes.
bool TimeRotations(const std::vector<uint64_t>& hashes, size_t sample, int distance, int threads) {
  bool same = true;
  double slow = 0, fast = 0, all = 0;
  size_t pairs = 0;
  std::vector<uint64_t> turned(hashes.size());
  for (int t : {1, 2, 3, 4, 6, 7}) {
    for (size_t i = 0; i < hashes.size(); ++i) turned[i] = model::TransformPhash(hashes[i], t);
    double start = Seconds();
    auto reference =
        index::HammingPairsAcrossQuadratic(hashes.data(), turned.data(), sample, 1, distance);
    slow += Seconds() - start;
    start = Seconds();
    same &= reference == index::HammingPairsAcross(hashes.data(), turned.data(), sample, 1, 64,
                                                   distance, threads);
    fast += Seconds() - start;
    start = Seconds();
    pairs += index::HammingPairsAcross(hashes.data(), turned.data(), hashes.size(), 1, 64, distance,
                                       threads)
                 .size();
    all += Seconds() - start;
  }
  std::printf(
      "\nrotated and mirrored: sample quadratic %.2f s, multi-index %.3f s, %s; all %zu: "
      "%.2f s (%zu ordered pairs over the six transforms)\n",
      slow, fast, same ? "same pairs" : "DIFFERENT pairs", hashes.size(), all, pairs);
  return same;
}

void PrintPlan(size_t n, int distance) {
  std::printf("  split at %zu hashes:", n);
  for (const index::HammingBlock& b : index::HammingJoinPlan(n, 64, distance))
    std::printf(" [bits %zu-%zu r%d]", b.first_bit, b.first_bit + size_t(b.width) - 1, b.radius);
  std::printf("%s\n", index::HammingJoinPlan(n, 64, distance).empty() ? " quadratic" : "");
}

int Run(int argc, char** argv) {
  size_t n = 1000000, sample = 20000;
  int distance = DuplicateOptions{}.hash_distance, threads = 0;
  std::string images;
  bool rotations = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--hashes") n = std::stoul(argv[i + 1]);
    if (flag == "--sample") sample = std::stoul(argv[i + 1]);
    if (flag == "--hash-distance") distance = std::stoi(argv[i + 1]);
    if (flag == "--images") images = argv[i + 1];
    if (flag == "--threads") threads = std::stoi(argv[i + 1]);
    if (flag == "--rotations") rotations = std::string(argv[i + 1]) == "on";
  }
  if (threads <= 0) threads = base::UsableCores();
  double start = Seconds();
  std::vector<uint64_t> real = images.empty() ? std::vector<uint64_t>{} : RealHashes(images);
  if (!images.empty())
    std::printf("%zu real phashes from %s in %.1f s\n", real.size(), images.c_str(),
                Seconds() - start);
  std::vector<uint64_t> hashes = MakeHashes(n, real, 27);
  sample = std::min(sample, n);
  std::printf("%zu hashes (%s), hash distance %d, %d threads\n", n,
              real.empty() ? "uniform random, 1 in 20 a near copy"
                           : "real, around real, 1 in 20 a near copy",
              distance, threads);

  // The reference on the sample: quadratic against multi-index, same pairs, same groups.
  start = Seconds();
  auto slow = index::HammingPairsQuadratic(hashes.data(), sample, 1, distance);
  double slow_seconds = Seconds() - start;
  start = Seconds();
  auto fast = index::HammingPairs(hashes.data(), sample, 1, 64, distance, threads);
  double fast_seconds = Seconds() - start;
  Grouped slow_groups = Group(sample, slow), fast_groups = Group(sample, fast);
  bool same = slow == fast && slow_groups.label == fast_groups.label;
  std::printf(
      "\nsample of %zu: quadratic %.3f s, multi-index %.3f s (%.1fx); %zu pairs, %zu groups; %s\n",
      sample, slow_seconds, fast_seconds, slow_seconds / fast_seconds, slow.size(),
      slow_groups.groups, same ? "same pairs and same groups" : "DIFFERENT pairs or groups");
  PrintPlan(sample, distance);

  start = Seconds();
  auto all = index::HammingPairs(hashes.data(), n, 1, 64, distance, threads);
  double all_seconds = Seconds() - start;
  Grouped all_groups = Group(n, all);
  double quadratic = slow_seconds * double(n) / double(sample) * double(n) / double(sample);
  std::printf("\nall %zu: candidates %.2f s (%zu pairs), grouping %.2f s (%zu groups): %.2f s\n", n,
              all_seconds, all.size(), all_groups.seconds, all_groups.groups,
              all_seconds + all_groups.seconds);
  std::printf("  the quadratic search at %zu, extrapolated from the sample: %.0f s (%.0fx)\n", n,
              quadratic, quadratic / all_seconds);
  PrintPlan(n, distance);
  if (rotations) same &= TimeRotations(hashes, sample, distance, threads);
  return same ? 0 : 1;
}

}  // namespace
}  // namespace imgsearch::bench

int main(int argc, char** argv) {
  return imgsearch::bench::Run(argc, argv);
}
