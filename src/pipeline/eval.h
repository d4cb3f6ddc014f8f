// Evaluation on a labelled folder: DIR/<class>/<images>, already indexed. Every image is
// a query (its own copy left out); the other images of its class are the relevant ones.
#pragma once

#include <map>
#include <string>

#include "imgsearch/library.h"
#include "pipeline/search.h"

namespace imgsearch::pipeline {

using imgsearch::EvalOptions;
using imgsearch::EvalReport;
using imgsearch::EvalScores;

Result<EvalReport> Evaluate(std::vector<BoundModel>& models, const Collection& images,
                            const EvalOptions& options);

}  // namespace imgsearch::pipeline
