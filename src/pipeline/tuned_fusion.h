// The fusion that Tune learns and a library keeps: a weight per model and the scale of
// each model's distances, so that standardised distances can be summed (FuseStandardized).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "pipeline/agreement.h"
#include "pipeline/model_set.h"
#include "pipeline/rerank.h"

namespace imgsearch::pipeline {

// The setting (Database::GetSetting) under which a library keeps its tuned fusion:
// {"method": "standardized", "k": K, "weights": {model: weight},
//  "scales": {model: {"center": c, "spread": s, "root": bool}}, "rerank": "qe:N,alpha=A"}
// ("rerank" only when Tune found that re-ranking helps). Libraries tuned before
// scales existed hold {"method": "weighted-rrf", "weights": ...}; they still fuse that way.
inline constexpr const char* kFusionSetting = "fusion";

struct TunedFusion {
  std::vector<double> weights;        // per model, in the models' order (0: not tuned)
  std::vector<DistanceScale> scales;  // per model; empty: weighted reciprocal rank fusion
  Rerank rerank;                      // applied by fuse "auto" unless a search says otherwise
};

// The scale of a model's distances between the images `sample` names, taken pairwise:
// their median and spread (see DistanceScale). An error when fewer than two have vectors.
Result<DistanceScale> MeasureDistanceScale(const BoundModel& model,
                                           const std::vector<int64_t>& sample);

// The setting's text for `fusion` of `models`, tuned for mAP@k.
std::string FusionSetting(const std::vector<BoundModel>& models, const TunedFusion& fusion, int k);

// The stored fusion for `models` (a model the tuning did not see gets weight 0), or nullopt
// when the library was never tuned.
Result<std::optional<TunedFusion>> StoredFusion(const Database& db,
                                                const std::vector<BoundModel>& models);

}  // namespace imgsearch::pipeline
