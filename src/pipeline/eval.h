// Evaluation on a labelled folder: DIR/<class>/<images>, already indexed. Every image is
// a query (its own copy left out); the other images of its class are the relevant ones.
#pragma once

#include <map>
#include <string>

#include "pipeline/search.h"

namespace imgsearch::pipeline {

struct EvalOptions {
  std::string dir;
  int k = 10;
  size_t max_queries = 0;  // 0: every labelled image; else an even sample of this many
  bool fuse = true;        // also evaluate the RRF ranking
};

struct EvalScores {
  double map = 0;            // mean average precision at K
  double precision = 0;      // mean precision at K
  double recall = 0;         // mean recall at K
  double latency_ms = 0;     // mean search time per query
  double index_recall = -1;  // recall at K of the index against exact search (-1: n/a)
};

struct EvalReport {
  size_t queries = 0;
  size_t classes = 0;
  std::map<std::string, EvalScores> models;  // and "fused"
};

Result<EvalReport> Evaluate(std::vector<BoundModel>& models, const EvalOptions& options);

}  // namespace imgsearch::pipeline
