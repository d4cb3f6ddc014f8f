// The duplicates' candidate and grouping stage at a million images. Hashes are 64-bit:
// uniform random bits, or (with --images) the real photos' phashes and synthetic photos
// around them (each a real hash with 16-24 of its bits flipped: a million pictures drawn
// around a few thousand layouts, a crowded worst case); in both, one in 20 is a planted
// copy of an earlier picture with 0-8 bits flipped, half of the copies rotated or mirrored
// first (model::TransformPhash). Measured on all N hashes: the multi-index candidate search
// (index/hamming_join.h) and the grouping (pipeline::LinkGroups), as `imgsearch duplicates
// --confirm-model none` runs them after reading the hashes. The reference, in the same run:
// the quadratic search on a sample of the first S hashes, which must give exactly the same
// pairs and the same groups; its time at N is extrapolated (x (N/S)^2), never run.
//
// With --rotations on, also the search for rotated and mirrored copies that `imgsearch
// duplicates` runs by default: upright and under the eight rotations and mirrorings in one
// multi-index pass, checked on the sample against the quadratic search over the eight.
// With --library DIR, `imgsearch duplicates` end to end on a library of the N pictures
// (written once into DIR, reused after), whose color_layout vectors make the planted
// copies confirmable.
//
//   duplicates_scale_bench [--hashes N] [--sample S] [--hash-distance D] [--images DIR]
//                          [--threads T] [--rotations on] [--group-blocks M] [--library DIR]
#include <algorithm>
#include <cstdio>
#include <map>
#include <numeric>
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

// The synthetic library: hashes, and for each planted copy the index of its original and
// the rotation or mirroring it went through (0: none); -1 for an original.
struct Synthetic {
  std::vector<uint64_t> hashes;
  std::vector<long> source;
  std::vector<int> transform;
};

Synthetic MakeHashes(size_t n, const std::vector<uint64_t>& real, unsigned seed) {
  std::mt19937_64 random(seed);
  auto flip = [&](uint64_t h, int bits) {
    for (int i = 0; i < bits; ++i) h ^= uint64_t{1} << (random() % 64);
    return h;
  };
  Synthetic s;
  s.hashes.assign(real.begin(), real.begin() + long(std::min(real.size(), n)));
  s.source.assign(s.hashes.size(), -1);
  s.transform.assign(s.hashes.size(), 0);
  while (s.hashes.size() < n) {
    if (s.hashes.size() > 1 && random() % 20 == 0) {  // a copy: half of them turned
      size_t original = random() % s.hashes.size();
      int t = random() % 2 == 0 ? 0 : 1 + int(random() % 7);
      s.hashes.push_back(flip(model::TransformPhash(s.hashes[original], t), int(random() % 9)));
      s.source.push_back(long(original));
      s.transform.push_back(t);
      continue;
    }
    s.hashes.push_back(real.empty() ? random()
                                    : flip(real[random() % real.size()], 16 + int(random() % 9)));
    s.source.push_back(-1);
    s.transform.push_back(0);
  }
  std::vector<size_t> order(n), at(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::shuffle(order.begin(), order.end(), random);
  for (size_t i = 0; i < n; ++i) at[order[i]] = i;
  Synthetic shuffled;
  for (size_t i : order) {
    shuffled.hashes.push_back(s.hashes[i]);
    shuffled.source.push_back(s.source[i] < 0 ? -1 : long(at[size_t(s.source[i])]));
    shuffled.transform.push_back(s.transform[i]);
  }
  return shuffled;
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
// under all eight transforms (same pairs, same transforms, same groups), then on all hashes.
bool TimeRotations(const std::vector<uint64_t>& hashes, size_t sample, int distance, int threads,
                   const std::vector<size_t>& split_blocks) {
  const std::vector<index::BitTransform>& group = pipeline::PhashDihedralGroup();
  auto plain = [](const std::vector<index::HammingGroupPair>& pairs) {
    std::vector<index::HammingPair> p;
    for (const auto& q : pairs) p.push_back({q.a, q.b, q.distance});
    return p;
  };
  double start = Seconds();
  auto reference = index::HammingPairsUnderGroupQuadratic(hashes.data(), sample, group, distance);
  double slow = Seconds() - start;
  start = Seconds();
  auto fast = index::HammingPairsUnderGroup(hashes.data(), sample, group, distance, threads);
  double fast_seconds = Seconds() - start;
  bool same = reference == fast &&
              Group(sample, plain(reference)).label == Group(sample, plain(fast)).label;
  size_t turned_pairs = 0;
  for (const auto& p : reference) turned_pairs += p.transform != 0;
  std::printf(
      "\nupright + rotated and mirrored, sample of %zu: quadratic over the 8 transforms %.2f s, "
      "one pass %.3f s (%.0fx); %zu pairs (%zu only turned); %s\n",
      sample, slow, fast_seconds, slow / fast_seconds, reference.size(), turned_pairs,
      same ? "same pairs and same groups" : "DIFFERENT pairs or groups");
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
  Grouped grouped = Group(hashes.size(), plain(all));
  std::printf("all %zu, one pass: candidates %.2f s (%zu pairs), grouping %.2f s: %.2f s\n",
              hashes.size(), all_seconds, all.size(), grouped.seconds,
              all_seconds + grouped.seconds);
  std::printf(
      "  the quadratic search over the 8 at %zu, extrapolated from the sample: %.0f s\n",
      hashes.size(),
      slow * double(hashes.size()) / double(sample) * double(hashes.size()) / double(sample));
  return same;
}

// The color_layout vectors of the synthetic pictures: an original's random, a copy's its
// original's turned as the copy was (model::TransformColorLayout), slightly changed.
std::vector<std::vector<float>> ColourVectors(const Synthetic& s) {
  std::vector<std::vector<float>> vectors(s.hashes.size());
  std::mt19937_64 random(3);
  std::normal_distribution<float> value(0, 1), noise(0, 0.02f);
  auto make = [&](auto&& self, size_t i) -> const std::vector<float>& {
    if (!vectors[i].empty()) return vectors[i];
    std::vector<float> v(32);
    if (s.source[i] < 0) {
      for (float& x : v) x = value(random);
    } else {
      const std::vector<float>& original = self(self, size_t(s.source[i]));
      std::vector<bool> comparable;
      v = model::TransformColorLayout(original, s.transform[i], &comparable);
      for (size_t d = 0; d < v.size(); ++d)
        v[d] = comparable[d] ? v[d] + noise(random) : original[d];
    }
    return vectors[i] = std::move(v);
  };
  for (size_t i = 0; i < s.hashes.size(); ++i) make(make, i);
  return vectors;
}

// Writes the synthetic library into DIR (images, phash = the hashes, color_layout), then
// writes every collection's index snapshot (color_layout's FLAT: the duplicates search uses
// no index, and a million-vector HNSW takes long to build), so that opening it later does
// no indexing in the background. An existing library of N images in DIR is reused.
int WriteLibrary(const Synthetic& s, const std::string& dir) {
  double start = Seconds();
  LibraryOptions options;
  options.models = {"phash", "color_layout"};
  auto library = Library::Open(dir, options);
  if (!library.ok()) return std::fprintf(stderr, "%s\n", library.status().ToString().c_str()), 1;
  Database& db = (*library)->database();
  auto images_collection = db.GetCollection(kImagesCollectionName);
  if (!images_collection.ok()) return 1;
  if ((*images_collection)->Count() == int64_t(s.hashes.size())) {
    std::printf("\nlibrary %s: reused (%zu images)\n", dir.c_str(), s.hashes.size());
    return 0;
  }
  if ((*images_collection)->Count() != 0)
    return std::fprintf(stderr, "%s holds another library\n", dir.c_str()), 1;
  const std::vector<std::vector<float>> colours = ColourVectors(s);
  const size_t batch = 20000;
  for (size_t first = 0; first < s.hashes.size(); first += batch) {
    std::vector<Row> images, phash, colour;
    for (size_t i = first; i < std::min(s.hashes.size(), first + batch); ++i) {
      ImageInfo info;
      info.id = int64_t(i) + 1;
      info.path = dir + "/pictures/" + std::to_string(i) + ".jpg";
      info.size = 1000 + int64_t(i);
      info.mtime_ns = int64_t(i);
      char hex[17];
      std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(s.hashes[i]));
      info.hash = hex;
      info.width = 64, info.height = 48;
      images.push_back(pipeline::ImageRow(info));
      Row h;
      h.id = info.id;
      for (size_t b = 0; b < 8; ++b) h.binary_vector.push_back(uint8_t(s.hashes[i] >> (8 * b)));
      phash.push_back(std::move(h));
      Row c;
      c.id = info.id;
      c.vector = colours[i];
      colour.push_back(std::move(c));
    }
    Status written = db.Transact([&](Transaction& txn) -> Status {
      IMGSEARCH_RETURN_IF_ERROR(txn.Insert(kImagesCollectionName, std::move(images)).status());
      IMGSEARCH_RETURN_IF_ERROR(txn.Insert("phash", std::move(phash)).status());
      return txn.Insert("color_layout", std::move(colour)).status();
    });
    if (!written.ok()) return std::fprintf(stderr, "%s\n", written.ToString().c_str()), 1;
  }
  for (const char* name : {kImagesCollectionName, "phash", "color_layout"}) {
    auto c = db.GetCollection(name);
    if (!c.ok()) return 1;
    Status flushed = std::string(name) == "color_layout" ? (*c)->DropIndex() : Status::Ok();
    if (flushed.ok()) flushed = (*c)->Flush();
    if (!flushed.ok()) return std::fprintf(stderr, "%s\n", flushed.ToString().c_str()), 1;
  }
  std::printf("\nlibrary %s: %zu images written and indexed in %.1f s\n", dir.c_str(),
              s.hashes.size(), Seconds() - start);
  return 0;
}

// With --library DIR: `imgsearch duplicates` as the library runs it on the synthetic
// library, end to end: reading the hashes, the candidates (upright and turned), the
// confirmation by color_layout and the grouping; and how many planted copies it grouped.
int TimeLibrary(const Synthetic& s, const std::string& dir) {
  if (WriteLibrary(s, dir) != 0) return 1;
  double start = Seconds();
  auto library = Library::Open(dir);
  if (!library.ok()) return 1;
  double opened = Seconds() - start;
  start = Seconds();
  auto report = (*library)->FindDuplicates(DuplicateOptions{});
  if (!report.ok()) return std::fprintf(stderr, "%s\n", report.status().ToString().c_str()), 1;
  const double seconds = Seconds() - start;
  std::map<int64_t, size_t> group_of;
  for (size_t g = 0; g < report->groups.size(); ++g)
    for (const ImageInfo& i : report->groups[g].images) group_of[i.id] = g;
  size_t copies = 0, grouped = 0;
  for (size_t i = 0; i < s.hashes.size(); ++i) {
    if (s.source[i] < 0) continue;
    ++copies;
    auto a = group_of.find(int64_t(i) + 1), b = group_of.find(s.source[i] + 1);
    grouped += a != group_of.end() && b != group_of.end() && a->second == b->second;
  }
  std::printf(
      "opened in %.1f s; duplicates (rotations on, confirmed by color_layout): %.2f s, %zu "
      "candidate pairs, %zu confirmed, %zu groups; %zu of the %zu planted copies grouped with "
      "their original\n  the same from the command line: imgsearch duplicates --db %s\n",
      opened, seconds, report->candidate_pairs, report->confirmed_pairs, report->groups.size(),
      grouped, copies, dir.c_str());
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
  bool rotations = false;
  std::vector<size_t> split_blocks;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--hashes") n = std::stoul(argv[i + 1]);
    if (flag == "--sample") sample = std::stoul(argv[i + 1]);
    if (flag == "--hash-distance") distance = std::stoi(argv[i + 1]);
    if (flag == "--images") images = argv[i + 1];
    if (flag == "--threads") threads = std::stoi(argv[i + 1]);
    if (flag == "--rotations") rotations = std::string(argv[i + 1]) == "on";
    if (flag == "--library") library = argv[i + 1];
    if (flag == "--group-blocks") split_blocks.push_back(std::stoul(argv[i + 1]));
  }
  if (threads <= 0) threads = base::UsableCores();
  double start = Seconds();
  std::vector<uint64_t> real = images.empty() ? std::vector<uint64_t>{} : RealHashes(images);
  if (!images.empty())
    std::printf("%zu real phashes from %s in %.1f s\n", real.size(), images.c_str(),
                Seconds() - start);
  const Synthetic synthetic = MakeHashes(n, real, 27);
  const std::vector<uint64_t>& hashes = synthetic.hashes;
  sample = std::min(sample, n);
  std::printf("%zu hashes (%s), hash distance %d, %d threads\n", n,
              real.empty() ? "uniform random, 1 in 20 a near copy, half of those turned"
                           : "real, around real, 1 in 20 a near copy, half of those turned",
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
  if (rotations) same &= TimeRotations(hashes, sample, distance, threads, split_blocks);
  if (!library.empty() && TimeLibrary(synthetic, library) != 0) return 1;
  return same ? 0 : 1;
}

}  // namespace
}  // namespace imgsearch::bench

int main(int argc, char** argv) {
  return imgsearch::bench::Run(argc, argv);
}
