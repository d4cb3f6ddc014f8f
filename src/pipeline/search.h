// Search: one query image (a file, or an id already in the database) against every
// model's collection; the query is decoded once and embedded by each model.
#pragma once

#include "pipeline/model_set.h"

namespace imgsearch::pipeline {

struct Query {
  std::string path;  // an image file, or
  int64_t id = -1;   // an indexed image
};

// "id:42" -> id 42; anything else is a path.
Result<Query> ParseQuery(const std::string& text);

struct SearchOptions {
  int k = 10;
  std::string filter;
  bool exclude_self = false;    // leave out the query image itself (same id or same content)
  std::string fuse;             // "", "rrf" or "weighted": also one ranking across models
  std::vector<double> weights;  // for "weighted", one per model (default 1 each)
};

struct ModelResults {
  std::string model;
  std::vector<Hit> hits;  // fields: path, hash, width, height
  double seconds = 0;     // time spent in this model's collection search
};

struct FusedHit {
  int64_t id;
  double score;  // larger is better
  std::string path;
};

struct SearchResults {
  std::vector<ModelResults> models;
  std::vector<FusedHit> fused;  // empty unless options.fuse is set
};

Result<SearchResults> SearchModels(std::vector<BoundModel>& models, const Query& query,
                                   const SearchOptions& options);

}  // namespace imgsearch::pipeline
