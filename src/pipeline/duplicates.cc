#include "pipeline/duplicates.h"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <numeric>
#include <set>
#include <span>
#include <tuple>
#include <unordered_map>

#include "base/cpu.h"
#include "base/thread_pool.h"
#include "index/hamming_join.h"
#include "model/builtin_models.h"
#include "model/dihedral.h"
#include "pipeline/images.h"
#include "store/vector_column.h"

namespace imgsearch::pipeline {
namespace {

// Two groups merge when at least this share of the pairs between them are confirmed.
constexpr double kLinkage = 0.5;

bool IsBuiltin(const BoundModel& model) {
  return model::FindBuiltinModel(model.source.source) != nullptr;
}

// A picture turned grey keeps its brightness dimensions and loses its colour ones, so a
// model with that split (the built-in color_layout) compares brightness alone when either
// picture has no colour. 0: compare whole vectors.
size_t BrightnessDimensions(const BoundModel& model) {
  const model::BuiltinModel* builtin = model::FindBuiltinModel(model.source.source);
  return builtin != nullptr ? builtin->brightness_dimensions : 0;
}

bool IsBuiltinNamed(const BoundModel& model, std::string_view name) {
  const model::BuiltinModel* builtin = model::FindBuiltinModel(model.source.source);
  return builtin != nullptr && builtin->name == name;
}

bool IsBinary(const BoundModel& model) {
  return model.collection->schema().binary();
}

const BoundModel* FindModel(const std::vector<BoundModel>& models, const std::string& name) {
  for (const BoundModel& m : models) {
    if (m.source.name == name) return &m;
  }
  return nullptr;
}

Result<const BoundModel*> HashModel(const std::vector<BoundModel>& models,
                                    const std::string& name) {
  if (!name.empty()) {
    const BoundModel* m = FindModel(models, name);
    if (m == nullptr) return Status::NotFound("the library has no model \"" + name + "\"");
    if (!IsBinary(*m))
      return Status::InvalidArgument("model \"" + name +
                                     "\" makes float vectors; the hash model must be binary");
    return m;
  }
  for (const BoundModel& m : models) {
    if (IsBinary(m)) return &m;
  }
  return Status::InvalidArgument(
      "finding duplicates needs a binary hash model in the library (such as the built-in "
      "phash: index with --model phash)");
}

// nullptr: the hash alone decides.
Result<const BoundModel*> ConfirmModel(const std::vector<BoundModel>& models,
                                       const std::string& name) {
  if (name == "none") return nullptr;
  if (!name.empty()) {
    const BoundModel* m = FindModel(models, name);
    if (m == nullptr) return Status::NotFound("the library has no model \"" + name + "\"");
    if (IsBinary(*m))
      return Status::InvalidArgument("model \"" + name +
                                     "\" makes binary vectors; the confirming model must make "
                                     "float ones (or say \"none\")");
    return m;
  }
  // The built-in color_layout by default: measured on photos with edited copies, a CNN's
  // vectors move more under halving and greying than between two photos of one kind of
  // object (doc/duplicates.md), so they confirm fewer true copies.
  const BoundModel* first_float = nullptr;
  for (const BoundModel& m : models) {
    if (IsBinary(m)) continue;
    if (IsBuiltin(m)) return &m;
    if (first_float == nullptr) first_float = &m;
  }
  return first_float;
}

// Every image's hash, as whole 64-bit words (the last one zero-padded).
struct Hashes {
  size_t words = 0;
  std::vector<int64_t> ids;
  std::vector<uint64_t> bits;

  const uint64_t* Of(size_t i) const { return bits.data() + i * words; }
};

Result<Hashes> LoadHashes(const BoundModel& model) {
  IMGSEARCH_ASSIGN_OR_RETURN(store::VectorColumn column, store::ReadVectors(*model.collection, {}));
  Hashes hashes;
  const size_t bytes = column.bytes_per_vector;
  hashes.words = (bytes + 7) / 8;
  hashes.ids = std::move(column.ids);
  hashes.bits.assign(hashes.ids.size() * hashes.words, 0);
  for (size_t i = 0; i < hashes.ids.size(); ++i) {
    const uint8_t* v = column.bytes.data() + i * bytes;
    for (size_t b = 0; b < bytes; ++b)
      hashes.bits[i * hashes.words + b / 8] |= uint64_t(v[b]) << (8 * (b % 8));
  }
  return hashes;
}

// Every pair within `max_distance` bits, found by multi-index hashing
// (index/hamming_join.h): the same pairs as comparing every pair of hashes, without the
// quadratic cost at hundreds of thousands of images. With `rotations` (a 64-bit phash),
// every pair whose hashes are that close upright or once one picture is rotated or
// mirrored, in one pass (the fewest bits apart over the eight, unturned before turned).
std::vector<Pair> CandidatePairs(const Hashes& hashes, size_t bits, int max_distance,
                                 bool rotations) {
  size_t n = hashes.ids.size();
  int threads = base::UsableCores();
  std::vector<Pair> pairs;
  if (rotations) {
    for (const index::HammingGroupPair& p : index::HammingPairsUnderGroup(
             hashes.bits.data(), n, PhashDihedralGroup(), max_distance, threads))
      pairs.push_back({p.a, p.b, p.distance, 1, p.transform});
    return pairs;
  }
  for (const index::HammingPair& p :
       index::HammingPairs(hashes.bits.data(), n, hashes.words, bits, max_distance, threads))
    pairs.push_back({p.a, p.b, p.distance, 1, 0});
  return pairs;
}

// Over the first `dimensions`, and only those marked in `comparable` when it is not empty.
double Cosine(std::span<const float> a, std::span<const float> b, size_t dimensions,
              const std::vector<bool>& comparable) {
  double dot = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < dimensions && i < a.size() && i < b.size(); ++i) {
    if (!comparable.empty() && (i >= comparable.size() || !comparable[i])) continue;
    dot += double(a[i]) * b[i];
    aa += double(a[i]) * a[i];
    bb += double(b[i]) * b[i];
  }
  return aa > 0 && bb > 0 ? dot / std::sqrt(aa * bb) : 0;
}

// Whether the dimensions after `brightness` hold (next to) nothing: a grey picture.
bool HasNoColour(std::span<const float> v, size_t brightness) {
  double colour = 0, all = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    all += double(v[i]) * v[i];
    if (i >= brightness) colour += double(v[i]) * v[i];
  }
  return colour <= 1e-4 * all;  // the colour part is under 1% of the vector's length
}

// The confirming model's vectors of the images in some pairs, side by side.
struct ConfirmVectors {
  size_t dimension = 0;
  std::vector<int64_t> row_of;  // per hash index: its row below, -1 when it has no vector
  std::vector<float> values;
  std::vector<uint8_t> grey;  // per row: HasNoColour (with a brightness split)

  std::span<const float> Row(size_t hash) const {
    return {values.data() + size_t(row_of[hash]) * dimension, dimension};
  }
};

Result<ConfirmVectors> LoadConfirmVectors(const Collection& collection, const Hashes& hashes,
                                          const std::vector<Pair>& pairs, size_t brightness) {
  std::vector<uint8_t> needed(hashes.ids.size(), 0);
  for (const Pair& p : pairs) needed[p.a] = needed[p.b] = 1;
  std::vector<int64_t> ids;
  for (size_t i = 0; i < needed.size(); ++i)
    if (needed[i]) ids.push_back(hashes.ids[i]);  // ascending, as the hashes are
  ConfirmVectors v;
  v.row_of.assign(hashes.ids.size(), -1);
  if (ids.empty()) return v;
  IMGSEARCH_ASSIGN_OR_RETURN(store::VectorColumn column, store::ReadVectors(collection, ids));
  v.dimension = column.bytes_per_vector / sizeof(float);
  v.values.resize(column.ids.size() * v.dimension);
  if (!v.values.empty()) std::memcpy(v.values.data(), column.bytes.data(), column.bytes.size());
  size_t at = 0;  // both lists ascend
  for (size_t i = 0; i < needed.size() && at < column.ids.size(); ++i) {
    if (hashes.ids[i] == column.ids[at]) v.row_of[i] = int64_t(at++);
  }
  v.grey.resize(column.ids.size(), 0);
  for (size_t r = 0; brightness > 0 && r < column.ids.size(); ++r)
    v.grey[r] = HasNoColour({v.values.data() + r * v.dimension, v.dimension}, brightness);
  return v;
}

// How the built-in color_layout's vector turns with the picture (model::TransformColorLayout,
// which is a signed rearrangement): per transform, output i = sign * input source[i], or
// not comparable.
struct TurnRecipe {
  std::vector<int> source;  // -1: not comparable (0 in the turned vector)
  std::vector<float> sign;
  std::vector<bool> comparable;
};

std::vector<TurnRecipe> TurnRecipes(size_t dimension) {
  std::vector<TurnRecipe> recipes(model::kDihedralTransforms);
  for (int t = 0; t < model::kDihedralTransforms; ++t) {
    TurnRecipe& r = recipes[size_t(t)];
    r.source.assign(dimension, -1);
    r.sign.assign(dimension, 0);
    std::vector<float> unit(dimension, 0);
    for (size_t j = 0; j < dimension; ++j) {
      unit[j] = 1;
      std::vector<float> turned = model::TransformColorLayout(unit, t, &r.comparable);
      for (size_t i = 0; i < dimension; ++i)
        if (turned[i] != 0) r.source[i] = int(j), r.sign[i] = turned[i];
      unit[j] = 0;
    }
  }
  return recipes;
}

// Keeps the pairs whose vectors under `model` are at least `min_similarity` alike. A pair
// with an image the model has no vector for (not embedded yet) is not confirmed. A pair
// found turned is compared turned when the model is the built-in color_layout, whose
// vector turns with the picture (model/dihedral.h); another model's as they are. The
// vectors are read in one pass and the pairs compared on every core.
Result<std::vector<Pair>> Confirm(const BoundModel& model, const Hashes& hashes,
                                  std::vector<Pair> pairs, double min_similarity) {
  const size_t brightness = BrightnessDimensions(model);
  IMGSEARCH_ASSIGN_OR_RETURN(ConfirmVectors vectors,
                             LoadConfirmVectors(*model.collection, hashes, pairs, brightness));
  const bool turns = IsBuiltinNamed(model, "color_layout");
  const std::vector<TurnRecipe> recipes =
      turns ? TurnRecipes(vectors.dimension) : std::vector<TurnRecipe>{};
  std::vector<uint8_t> kept(pairs.size(), 0);
  auto confirm = [&](size_t first, size_t last) {
    std::vector<float> turned(vectors.dimension);
    for (size_t k = first; k < last; ++k) {
      Pair& p = pairs[k];
      if (vectors.row_of[p.a] < 0 || vectors.row_of[p.b] < 0) continue;
      std::span<const float> a = vectors.Row(p.a), b = vectors.Row(p.b);
      const bool a_grey = vectors.grey[size_t(vectors.row_of[p.a])] != 0;
      if (p.transform != 0 && turns) {
        const TurnRecipe& r = recipes[size_t(p.transform)];
        for (size_t i = 0; i < turned.size(); ++i)
          turned[i] = r.source[i] < 0 ? 0.0f : r.sign[i] * b[size_t(r.source[i])];
        bool grey = brightness > 0 && (a_grey || HasNoColour(turned, brightness));
        p.similarity = Cosine(a, turned, grey ? brightness : a.size(), r.comparable);
      } else {
        bool grey = a_grey || vectors.grey[size_t(vectors.row_of[p.b])] != 0;
        p.similarity = Cosine(a, b, grey ? brightness : a.size(), {});
      }
      kept[k] = p.similarity >= min_similarity;
    }
  };
  const size_t chunks = std::min<size_t>(pairs.size() / 4096 + 1, 64);
  if (chunks == 1) {
    confirm(0, pairs.size());
  } else {
    base::ThreadPool pool(base::UsableCores());
    pool.ParallelFor(chunks, [&](size_t c) {
      confirm(pairs.size() * c / chunks, pairs.size() * (c + 1) / chunks);
    });
  }
  std::vector<Pair> confirmed;
  for (size_t k = 0; k < pairs.size(); ++k)
    if (kept[k]) confirmed.push_back(pairs[k]);
  return confirmed;
}

Result<std::vector<DuplicateGroup>> Group(const Collection& images, const Hashes& hashes,
                                          const std::vector<Pair>& pairs) {
  DisjointSets sets(hashes.ids.size());
  LinkGroups(pairs, &sets);
  std::map<size_t, DuplicateGroup> by_root;
  std::vector<int64_t> ids;
  for (const Pair& p : pairs) {
    if (sets.Find(p.a) != sets.Find(p.b)) continue;  // its groups did not merge
    DuplicateGroup& g = by_root[sets.Find(p.a)];
    g.min_similarity = std::min(g.min_similarity, p.similarity);
    g.max_hash_distance = std::max(g.max_hash_distance, p.distance);
    ids.insert(ids.end(), {hashes.ids[p.a], hashes.ids[p.b]});
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  IMGSEARCH_ASSIGN_OR_RETURN(auto infos, ImagesById(images, ids));
  std::map<int64_t, size_t> index_of;  // of the grouped images only
  for (const Pair& p : pairs) {
    index_of[hashes.ids[p.a]] = p.a;
    index_of[hashes.ids[p.b]] = p.b;
  }
  for (int64_t id : ids) {  // ascending, so each group lists its images by id
    auto info = infos.find(id);
    if (info != infos.end()) by_root[sets.Find(index_of[id])].images.push_back(info->second);
  }
  std::vector<DuplicateGroup> groups;
  for (auto& [root, g] : by_root) {
    if (g.images.size() < 2) continue;  // the others were removed meanwhile
    auto pixels = [](const ImageInfo& i) { return std::pair(int64_t(i.width) * i.height, i.size); };
    g.largest = std::max_element(g.images.begin(), g.images.end(), [&](auto& a, auto& b) {
                  return pixels(a) < pixels(b);
                })->id;
    g.oldest = std::min_element(g.images.begin(), g.images.end(), [](auto& a, auto& b) {
                 return a.mtime_ns < b.mtime_ns;
               })->id;
    groups.push_back(std::move(g));
  }
  std::stable_sort(groups.begin(), groups.end(),
                   [](auto& a, auto& b) { return a.images.size() > b.images.size(); });
  return groups;
}

}  // namespace

// model::TransformPhash moves each bit to one place and inverts some.
const std::vector<index::BitTransform>& PhashDihedralGroup() {
  static const std::vector<index::BitTransform> group = [] {
    std::vector<index::BitTransform> g;
    for (int t = 0; t < model::kDihedralTransforms; ++t) {
      index::BitTransform bt;
      bt.flip = model::TransformPhash(0, t);
      for (int p = 0; p < 64; ++p) {
        uint64_t moved = model::TransformPhash(uint64_t{1} << p, t) ^ bt.flip;
        bt.source[size_t(std::countr_zero(moved))] = uint8_t(p);
      }
      g.push_back(bt);
    }
    return g;
  }();
  return group;
}

DisjointSets::DisjointSets(size_t n) : parent_(n), size_(n, 1) {
  std::iota(parent_.begin(), parent_.end(), size_t{0});
}

size_t DisjointSets::Find(size_t x) {
  while (parent_[x] != x) x = parent_[x] = parent_[parent_[x]];
  return x;
}

void DisjointSets::Join(size_t a, size_t b) {
  a = Find(a);
  b = Find(b);
  if (a == b) return;
  if (size_[a] < size_[b]) std::swap(a, b);
  parent_[b] = a;
  size_[a] += size_[b];
}

void LinkGroups(std::vector<Pair> pairs, DisjointSets* sets) {
  std::sort(pairs.begin(), pairs.end(), [](const Pair& x, const Pair& y) {
    return std::tie(x.distance, y.similarity, x.a, x.b) <
           std::tie(y.distance, x.similarity, y.a, y.b);
  });
  std::vector<std::pair<size_t, size_t>> confirmed;  // sorted, for binary search
  confirmed.reserve(pairs.size());
  std::unordered_map<size_t, size_t> degree;  // confirmed pairs per image
  for (const Pair& p : pairs) {
    confirmed.push_back({p.a, p.b});
    ++degree[p.a], ++degree[p.b];
  }
  std::sort(confirmed.begin(), confirmed.end());
  auto is_confirmed = [&](size_t x, size_t y) {
    return std::binary_search(confirmed.begin(), confirmed.end(),
                              std::pair(std::min(x, y), std::max(x, y)));
  };
  struct Members {
    std::vector<size_t> images;
    size_t degree = 0;  // their confirmed pairs, counted from each end
  };
  std::unordered_map<size_t, Members> members;
  auto of = [&](size_t root) -> Members& {
    Members& m = members[root];
    if (m.images.empty()) m.images.push_back(root), m.degree = degree[root];
    return m;
  };
  for (const Pair& p : pairs) {
    size_t ra = sets->Find(p.a), rb = sets->Find(p.b);
    if (ra == rb) continue;
    Members &a = of(ra), &b = of(rb);
    const double needed = kLinkage * double(a.images.size() * b.images.size());
    // The pairs between the groups are at most either group's pairs: often too few.
    if (double(std::min(a.degree, b.degree)) < needed) continue;
    size_t linked = 0;
    for (size_t x : a.images)
      for (size_t y : b.images) linked += is_confirmed(x, y) ? 1 : 0;
    if (double(linked) < needed) continue;
    Members joined = std::move(a);
    joined.images.insert(joined.images.end(), b.images.begin(), b.images.end());
    joined.degree += b.degree;
    members.erase(ra);
    members.erase(rb);
    sets->Join(ra, rb);
    members[sets->Find(ra)] = std::move(joined);
  }
}

Result<DuplicateReport> FindDuplicates(const std::vector<BoundModel>& models,
                                       const Collection& images, const DuplicateOptions& options) {
  auto start = std::chrono::steady_clock::now();
  if (options.hash_distance < 0)
    return Status::InvalidArgument("the hash distance must be 0 or more bits");
  if (!(options.min_similarity >= -1 && options.min_similarity <= 1))
    return Status::InvalidArgument("the similarity must lie between -1 and 1");
  IMGSEARCH_ASSIGN_OR_RETURN(const BoundModel* hash_model, HashModel(models, options.hash_model));
  IMGSEARCH_ASSIGN_OR_RETURN(const BoundModel* confirm_model,
                             ConfirmModel(models, options.confirm_model));
  IMGSEARCH_ASSIGN_OR_RETURN(Hashes hashes, LoadHashes(*hash_model));
  DuplicateReport report;
  report.hash_model = hash_model->source.name;
  report.confirm_model = confirm_model ? confirm_model->source.name : "none";
  report.images = hashes.ids.size();
  // The turned hashes are known for the built-in phash only (model/dihedral.h).
  report.rotations = options.rotations && IsBuiltinNamed(*hash_model, "phash") && hashes.words == 1;
  std::vector<Pair> pairs =
      CandidatePairs(hashes, hash_model->collection->schema().VectorBytes() * 8,
                     options.hash_distance, report.rotations);
  report.candidate_pairs = pairs.size();
  if (confirm_model != nullptr) {
    IMGSEARCH_ASSIGN_OR_RETURN(
        pairs, Confirm(*confirm_model, hashes, std::move(pairs), options.min_similarity));
  }
  report.confirmed_pairs = pairs.size();
  IMGSEARCH_ASSIGN_OR_RETURN(report.groups, Group(images, hashes, pairs));
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace imgsearch::pipeline

namespace imgsearch {

nlohmann::json DuplicateReport::ToJson() const {
  nlohmann::json groups_json = nlohmann::json::array();
  for (const DuplicateGroup& g : groups) {
    nlohmann::json members = nlohmann::json::array();
    for (const ImageInfo& i : g.images) {
      members.push_back({{"id", i.id},
                         {"path", i.path},
                         {"size", i.size},
                         {"mtime_ns", i.mtime_ns},
                         {"width", i.width},
                         {"height", i.height}});
    }
    groups_json.push_back({{"images", members},
                           {"largest", g.largest},
                           {"oldest", g.oldest},
                           {"min_similarity", g.min_similarity},
                           {"max_hash_distance", g.max_hash_distance}});
  }
  return {{"hash_model", hash_model},
          {"confirm_model", confirm_model},
          {"rotations", rotations},
          {"images", images},
          {"candidate_pairs", candidate_pairs},
          {"confirmed_pairs", confirmed_pairs},
          {"seconds", seconds},
          {"groups", groups_json}};
}

}  // namespace imgsearch
