// Search: one query image (a file, or an id already in the database) against every
// model's collection; the query is decoded once and embedded by each model.
#pragma once

#include <nlohmann/json.hpp>

#include "imgsearch/library.h"
#include "pipeline/model_set.h"
#include "pipeline/tuned_fusion.h"

namespace imgsearch::pipeline {

// The public names (imgsearch/library.h).
using Query = ImageQuery;
using imgsearch::FusedHit;
using imgsearch::ModelResults;
using imgsearch::SearchOptions;
using imgsearch::SearchResults;

// "X,Y,W,H" -> a crop box.
Result<CropBox> ParseCropBox(const std::string& text);

// "id:42" -> id 42; anything else is a path.
Result<Query> ParseQuery(const std::string& text);

// The results as JSON: {"query", "results": {model: [{rank, id, distance, path}]},
// "fused": [{rank, id, score, path}]}, the shape the CLI and the server print.
nlohmann::json SearchResultsJson(const std::string& query_label, const SearchResults& results);

// Every collection of a database: name, rows, dimension, vector type, index, metric.
nlohmann::json DescribeCollections(const Database& db);

// Each model's nearest images; the filter is evaluated on `images` (images.h), whose
// fields the hits carry: path, hash, width, height. Fuse "tuned" fuses as `tuned` says
// (an error without it). `whole_lists`: each model's hits are its whole ranked list (as
// deep as fusion looks, for Tune), not its first K.
Result<SearchResults> SearchModels(std::vector<BoundModel>& models, const Collection& images,
                                   const Query& query, const SearchOptions& options,
                                   const TunedFusion* tuned = nullptr, bool whole_lists = false);

// The same search re-ranked in several ways (each entry as SearchOptions::rerank; "" and
// "off" for none), the models' first search made once: one result per entry, each what
// SearchModels answers with options.rerank set to it, provided no entry's N is deeper
// than the first search already looks (fused: 4·K, at least 50). For tune, which tries
// every candidate re-ranking on every query.
Result<std::vector<SearchResults>> SearchModelsReranked(
    std::vector<BoundModel>& models, const Collection& images, const Query& query,
    const SearchOptions& options, const std::vector<std::string>& reranks,
    const TunedFusion* tuned = nullptr, bool whole_lists = false);

}  // namespace imgsearch::pipeline
