// Near-duplicate groups: images that are the same picture after resizing, re-compression,
// a light crop, a change of brightness or contrast, or conversion to grey. The binary
// hash finds the candidates cheaply (a perceptual hash barely moves under those changes);
// a float model's vectors confirm them, because a 64-bit hash also lands close for some
// different pictures with the same coarse layout.
#pragma once

#include <vector>

#include "imgsearch/library.h"
#include "index/hamming_join.h"
#include "pipeline/model_set.h"

namespace imgsearch::pipeline {

using imgsearch::DuplicateGroup;
using imgsearch::DuplicateOptions;
using imgsearch::DuplicateReport;

Result<DuplicateReport> FindDuplicates(const std::vector<BoundModel>& models,
                                       const Collection& images, const DuplicateOptions& options);

// The eight rotations and mirrorings of the built-in 64-bit phash (model::TransformPhash,
// numbered as there) as rearrangements of its bits, for index::HammingPairsUnderGroup.
const std::vector<index::BitTransform>& PhashDihedralGroup();

// Disjoint sets over 0..n-1 (union by size, path halving): the groups that pairs chain into.
class DisjointSets {
 public:
  explicit DisjointSets(size_t n);
  size_t Find(size_t x);
  void Join(size_t a, size_t b);

 private:
  std::vector<size_t> parent_;
  std::vector<size_t> size_;
};

// A candidate pair: indexes a < b into the hashes, the bits they differ in, the
// confirming model's cosine (1 when the hash alone decides) and the rotation or mirroring
// (model/dihedral.h) that takes b's picture to a's (0: none).
struct Pair {
  size_t a = 0, b = 0;
  int distance = 0;
  double similarity = 1;
  int transform = 0;
};

// Joins the confirmed pairs into groups, the most alike first. Two groups merge only when
// at least half of the pairs between them are confirmed: plain chaining (A~B, B~C, ...)
// lets a run of similar photos, a class shot against one background, grow into one group.
void LinkGroups(std::vector<Pair> pairs, DisjointSets* sets);

}  // namespace imgsearch::pipeline
