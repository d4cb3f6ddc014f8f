// Near-duplicate groups: images that are the same picture after resizing, re-compression,
// a light crop, a change of brightness or contrast, or conversion to grey. The binary
// hash finds the candidates cheaply (a perceptual hash barely moves under those changes);
// a float model's vectors confirm them, because a 64-bit hash also lands close for some
// different pictures with the same coarse layout.
#pragma once

#include <vector>

#include "imgsearch/library.h"
#include "pipeline/model_set.h"

namespace imgsearch::pipeline {

using imgsearch::DuplicateGroup;
using imgsearch::DuplicateOptions;
using imgsearch::DuplicateReport;

Result<DuplicateReport> FindDuplicates(const std::vector<BoundModel>& models,
                                       const Collection& images, const DuplicateOptions& options);

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

}  // namespace imgsearch::pipeline
