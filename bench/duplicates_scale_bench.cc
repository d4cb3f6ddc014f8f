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
// duplicates` runs by default: upright and under the eight rotations and mirrorings in one
// multi-index pass, checked on the sample against the quadratic search over the eight and
// against the earlier six cross searches.
//
//   duplicates_scale_bench [--hashes N] [--sample S] [--hash-distance D] [--images DIR]
//                          [--threads T] [--rotations on] [--six-searches on]
//                          [--group-blocks M] [--library DIR]
#include <algorithm>
#include <cstdio>
#include <map>
#include <random>
#include <tuple>

#include "base/cpu.h"
#include "bench_util.h"
#include "imgsearch/embedder.h"
#include "imgsearch/library.h"
#include "index/hamming_join.h"
#include "model/dihedral.h"
#include "pipeline/duplicates.h"
#include "pipeline/images.h"

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

// The upright and rotated/mirrored search in one pass (index::HammingPairsUnderGroup, as
// `imgsearch duplicates` runs it by default): on the sample against the quadratic search
// under all eight transforms and against the earlier way (the upright search plus six cross
// searches of the hashes against a transform of them, merged), then on all hashes. The
// earlier way at all N only with --six-searches on (it took 161 s at a million).
bool TimeRotations(const std::vector<uint64_t>& hashes, size_t sample, int distance, int threads,
                   bool six_at_n, const std::vector<size_t>& split_blocks) {
  const std::vector<index::BitTransform>& group = pipeline::PhashDihedralGroup();
  double start = Seconds();
  auto reference = index::HammingPairsUnderGroupQuadratic(hashes.data(), sample, group, distance);
  double slow = Seconds() - start;
  start = Seconds();
  auto fast = index::HammingPairsUnderGroup(hashes.data(), sample, group, distance, threads);
  double fast_seconds = Seconds() - start;
  // The earlier way: each pair once, the fewest bits apart, unturned before turned.
  auto six = [&](size_t n, double* seconds) {
    double began = Seconds();
    std::vector<index::HammingGroupPair> pairs;
    for (const index::HammingPair& p :
         index::HammingPairs(hashes.data(), n, 1, 64, distance, threads))
      pairs.push_back({p.a, p.b, p.distance, 0});
    std::vector<uint64_t> turned(n);
    for (int t : {1, 2, 3, 4, 6, 7}) {
      for (size_t i = 0; i < n; ++i) turned[i] = model::TransformPhash(hashes[i], t);
      for (const index::HammingPair& p :
           index::HammingPairsAcross(hashes.data(), turned.data(), n, 1, 64, distance, threads)) {
        if (p.a < p.b)
          pairs.push_back({p.a, p.b, p.distance, t});
        else
          pairs.push_back({p.b, p.a, p.distance, model::InverseDihedral(t)});
      }
    }
    std::sort(pairs.begin(), pairs.end(), [](const auto& x, const auto& y) {
      return std::tie(x.a, x.b, x.distance, x.transform) <
             std::tie(y.a, y.b, y.distance, y.transform);
    });
    pairs.erase(std::unique(pairs.begin(), pairs.end(),
                            [](const auto& x, const auto& y) { return x.a == y.a && x.b == y.b; }),
                pairs.end());
    *seconds = Seconds() - began;
    return pairs;
  };
  double six_seconds = 0;
  auto earlier = six(sample, &six_seconds);
  bool same = reference == fast && reference == earlier;
  size_t turned_pairs = 0;
  for (const auto& p : reference) turned_pairs += p.transform != 0;
  std::printf(
      "\nupright + rotated and mirrored, sample of %zu: quadratic over the 8 transforms %.2f s, "
      "one pass %.3f s, upright + six cross searches %.3f s; %zu pairs (%zu only turned); %s\n",
      sample, slow, fast_seconds, six_seconds, reference.size(), turned_pairs,
      same ? "same pairs" : "DIFFERENT pairs");
  for (size_t m : split_blocks) {  // --group-blocks: other splits, for the cost model
    start = Seconds();
    auto pairs =
        index::HammingPairsUnderGroupWithPlan(hashes.data(), hashes.size(), group, distance,
                                              index::SplitIntoBlocks(64, m, distance), threads);
    std::printf("  one pass split into %zu blocks: %.2f s (%zu pairs)\n", m, Seconds() - start,
                pairs.size());
  }
  start = Seconds();
  auto all = index::HammingPairsUnderGroup(hashes.data(), hashes.size(), group, distance, threads);
  double all_seconds = Seconds() - start;
  Grouped grouped = Group(hashes.size(), [&] {
    std::vector<index::HammingPair> plain;
    for (const auto& p : all) plain.push_back({p.a, p.b, p.distance});
    return plain;
  }());
  std::printf("all %zu, one pass: candidates %.2f s (%zu pairs), grouping %.2f s: %.2f s\n",
              hashes.size(), all_seconds, all.size(), grouped.seconds,
              all_seconds + grouped.seconds);
  if (six_at_n) {
    double seconds = 0;
    same &= six(hashes.size(), &seconds) == all;
    std::printf("  upright + six cross searches at %zu: %.2f s (%.1fx the one pass), %s\n",
                hashes.size(), seconds, seconds / all_seconds, same ? "same pairs" : "DIFFERENT");
  }
  return same;
}

// With --library DIR: a library of N images whose phash rows are the hashes (and whose
// color_layout rows are random vectors, one in twenty a near copy of its hash's source),
// written straight into its collections (no pictures), then `imgsearch duplicates` as the
// library runs it, end to end: reading the hashes, the candidates (upright and turned),
// the confirmation by color_layout and the grouping.
int TimeLibrary(const std::vector<uint64_t>& hashes, const std::string& dir) {
  double start = Seconds();
  LibraryOptions options;
  options.models = {"phash", "color_layout"};
  {
    auto library = Library::Open(dir, options);
    if (!library.ok()) return std::fprintf(stderr, "%s\n", library.status().ToString().c_str()), 1;
    Database& db = (*library)->database();
    std::mt19937_64 random(3);
    std::normal_distribution<float> noise(0, 1);
    std::vector<float> last(32, 0);
    const size_t batch = 20000;
    for (size_t first = 0; first < hashes.size(); first += batch) {
      std::vector<Row> images, phash, colour;
      for (size_t i = first; i < std::min(hashes.size(), first + batch); ++i) {
        ImageInfo info;
        info.id = int64_t(i) + 1;
        info.path = dir + "/pictures/" + std::to_string(i) + ".jpg";
        info.size = 1000 + int64_t(i);
        info.mtime_ns = int64_t(i);
        char hex[17];
        std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hashes[i]));
        info.hash = hex;
        info.width = 64, info.height = 48;
        images.push_back(pipeline::ImageRow(info));
        Row h;
        h.id = info.id;
        for (size_t b = 0; b < 8; ++b) h.binary_vector.push_back(uint8_t(hashes[i] >> (8 * b)));
        phash.push_back(std::move(h));
        Row c;
        c.id = info.id;
        if (random() % 20 != 0)
          for (float& v : last) v = noise(random);
        c.vector = last;
        colour.push_back(std::move(c));
      }
      Status written = db.Transact([&](Transaction& txn) -> Status {
        IMGSEARCH_RETURN_IF_ERROR(txn.Insert(kImagesCollectionName, std::move(images)).status());
        IMGSEARCH_RETURN_IF_ERROR(txn.Insert("phash", std::move(phash)).status());
        return txn.Insert("color_layout", std::move(colour)).status();
      });
      if (!written.ok()) return std::fprintf(stderr, "%s\n", written.ToString().c_str()), 1;
    }
  }
  std::printf("\nlibrary %s: %zu images written in %.1f s\n", dir.c_str(), hashes.size(),
              Seconds() - start);
  start = Seconds();
  auto library = Library::Open(dir);
  if (!library.ok()) return 1;
  double opened = Seconds() - start;
  start = Seconds();
  auto report = (*library)->FindDuplicates(DuplicateOptions{});
  if (!report.ok()) return std::fprintf(stderr, "%s\n", report.status().ToString().c_str()), 1;
  std::printf(
      "opened in %.1f s; duplicates (rotations on, confirmed by color_layout): %.2f s, %zu "
      "candidate pairs, %zu confirmed, %zu groups\n  the same from the command line: imgsearch "
      "duplicates --db %s\n",
      opened, Seconds() - start, report->candidate_pairs, report->confirmed_pairs,
      report->groups.size(), dir.c_str());
  return 0;
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
  std::string images, library;
  bool rotations = false, six_at_n = false;
  std::vector<size_t> split_blocks;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--hashes") n = std::stoul(argv[i + 1]);
    if (flag == "--sample") sample = std::stoul(argv[i + 1]);
    if (flag == "--hash-distance") distance = std::stoi(argv[i + 1]);
    if (flag == "--images") images = argv[i + 1];
    if (flag == "--threads") threads = std::stoi(argv[i + 1]);
    if (flag == "--rotations") rotations = std::string(argv[i + 1]) == "on";
    if (flag == "--six-searches") six_at_n = std::string(argv[i + 1]) == "on";
    if (flag == "--library") library = argv[i + 1];
    if (flag == "--group-blocks") split_blocks.push_back(std::stoul(argv[i + 1]));
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
  if (rotations) same &= TimeRotations(hashes, sample, distance, threads, six_at_n, split_blocks);
  if (!library.empty() && TimeLibrary(hashes, library) != 0) return 1;
  return same ? 0 : 1;
}

}  // namespace
}  // namespace imgsearch::bench

int main(int argc, char** argv) {
  return imgsearch::bench::Run(argc, argv);
}
