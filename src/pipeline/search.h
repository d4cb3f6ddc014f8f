// Search: one query image (a file, or an id already in the database) against every
// model's collection; the query is decoded once and embedded by each model.
#pragma once

#include <nlohmann/json.hpp>

#include "pipeline/model_set.h"

namespace imgsearch::pipeline {

struct Query {
  std::string path;   // an image file, or
  int64_t id = -1;    // an indexed image, or
  std::string bytes;  // an image in memory (an upload); `path` then only names it
};

// "id:42" -> id 42; anything else is a path.
Result<Query> ParseQuery(const std::string& text);

struct SearchOptions {
  int k = 10;
  std::string filter;
  bool exclude_self = false;      // leave out the query image itself (same id or same content)
  std::string fuse;               // "", "rrf" or "weighted": also one ranking across models
  std::vector<double> weights;    // for "weighted", one per model (default 1 each)
  std::vector<std::string> only;  // search only these models (by name); empty = all
  uint64_t max_pixels = 0;        // a query image larger than this is refused (0: default)
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

// The results as JSON: {"query", "results": {model: [{rank, id, distance, path}]},
// "fused": [{rank, id, score, path}]}, the shape the CLI and the server print.
nlohmann::json SearchResultsJson(const std::string& query_label, const SearchResults& results);

// Every collection of a database: name, rows, dimension, vector type, index, metric.
nlohmann::json DescribeCollections(const Database& db);

Result<SearchResults> SearchModels(std::vector<BoundModel>& models, const Query& query,
                                   const SearchOptions& options);

}  // namespace imgsearch::pipeline
