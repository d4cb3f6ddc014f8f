// Learned fusion: per-model weights of standardised fusion (FuseStandardized: each model's
// distances as standard scores against the library's own distances, weighted and summed)
// that maximise mAP@K on labelled images, found by coordinate ascent from equal weights and
// from the best single model. The objective counts every class once, so that the weights
// carry over to classes not seen rather than fit the largest ones. Each model's ranked list
// of every query is computed once; a weight vector is then scored in memory.
#pragma once

#include <vector>

#include "imgsearch/library.h"
#include "pipeline/search.h"
#include "pipeline/tuned_fusion.h"

namespace imgsearch::pipeline {

struct Tuned {
  TuneReport report;
  TunedFusion fusion;  // what the library keeps (FusionSetting)
};

Result<Tuned> Tune(std::vector<BoundModel>& models, const Collection& images,
                   const TuneOptions& options);

}  // namespace imgsearch::pipeline
