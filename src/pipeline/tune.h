// Learned fusion: the weights of reciprocal rank fusion that maximise mAP@K on labelled
// images, found by coordinate ascent from equal weights and from the best single model
// (so that a model which only drags the others down gets weight 0, and the tuned fusion is
// never worse than the best model on the classes it was tuned on). Each model's ranked
// list of every query is computed once; a weight vector is then scored in memory.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "imgsearch/library.h"
#include "pipeline/search.h"

namespace imgsearch::pipeline {

// The setting (Database::GetSetting) under which a library keeps its tuned weights:
// {"method": "weighted-rrf", "k0": 60, "k": K, "weights": {model: weight}}.
inline constexpr const char* kFusionSetting = "fusion";

Result<TuneReport> Tune(std::vector<BoundModel>& models, const Collection& images,
                        const TuneOptions& options);

// The stored weights in `models` order (a model the tuning did not see gets 0), or
// nullopt when the library was never tuned.
Result<std::optional<std::vector<double>>> StoredFusionWeights(
    const Database& db, const std::vector<BoundModel>& models);

}  // namespace imgsearch::pipeline
