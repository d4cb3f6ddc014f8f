// How far a quantised model's vectors agree with the float model's on the same images:
// the cosine of each pair, and how many of each image's nearest neighbours under the
// float vectors are still among its nearest neighbours under the quantised ones.
// Pure functions, thread-safe.
#pragma once

#include "imgsearch/embedder.h"

namespace imgsearch::model::quantize {

struct VectorAgreement {
  size_t images = 0;
  double mean_cosine = 0;
  double min_cosine = 0;
  int k = 0;                // neighbours compared per image: min(k asked, images - 1)
  double recall_at_k = -1;  // mean over images; -1 with fewer than two images
};

// `reference` and `candidate` hold vectors of the same images in the same order. Binary
// vectors are compared as vectors of +1/-1 (cosine = 1 - 2 * Hamming distance / bits).
VectorAgreement CompareVectors(const Embeddings& reference, const Embeddings& candidate, int k);

}  // namespace imgsearch::model::quantize
