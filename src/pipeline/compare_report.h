// The comparison of several models' answers to one query: agreement per pair of models,
// distance statistics per model, and a self-contained HTML page with thumbnails.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "pipeline/search.h"

namespace imgsearch::pipeline {

// {"models": {name: {"distance": {min, max, mean, median}}}, "pairs": [{a, b, overlap,
// jaccard, spearman, kendall}]}
nlohmann::json CompareModels(const SearchResults& results);

// A page with the query and one column of results per model (thumbnail, distance, file
// name), and the agreement figures. Images are embedded as data URIs: no files beside it.
Result<std::string> CompareHtml(const std::string& query_label, const std::string& query_path,
                                const SearchResults& results, const nlohmann::json& comparison);

}  // namespace imgsearch::pipeline
