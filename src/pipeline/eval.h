// Evaluation on a labelled folder: DIR/<class>/<images>, already indexed. Every image is
// a query (its own copy left out); the other images of its class are the relevant ones.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "imgsearch/library.h"
#include "pipeline/search.h"

namespace imgsearch::pipeline {

using imgsearch::EvalOptions;
using imgsearch::EvalReport;
using imgsearch::EvalScores;

// Evaluates each model and, with options.fuse, RRF and (given one) the tuned fusion; with a
// re-ranking (`rerank` on), each of them re-ranked too, named "<name>+qe" (the fusion
// re-ranked is the tuned one when given, else RRF).
Result<EvalReport> Evaluate(std::vector<BoundModel>& models, const Collection& images,
                            const EvalOptions& options, const TunedFusion* tuned = nullptr,
                            const Rerank& rerank = {});

// id -> class of every indexed image inside DIR/<class>/ (only the classes named, when
// any are); an error when there is none.
Result<std::map<int64_t, std::string>> Labels(const Collection& images, const std::string& dir,
                                              const std::vector<std::string>& classes);
// The labelled ids as queries: all, or an even sample of at most `max` (0: all).
std::vector<int64_t> SampleQueries(const std::map<int64_t, std::string>& labels, size_t max);

}  // namespace imgsearch::pipeline
