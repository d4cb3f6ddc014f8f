// Reading the native API's requests: a search from a JSON body or from multipart fields
// (with an uploaded "image"), an upload's optional "fields" part, and the duplicates query.
// Functions of the request's body or parts alone, apart from the HTTP exchange, so that they can be
// tested and fuzzed without a server.
#pragma once

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "imgsearch/library.h"

namespace imgsearch::server {

struct SearchCall {
  ImageQuery query;
  SearchOptions options;
  std::string label;  // how the answer names the query: "id:42" or the upload's file name
};

// {"id", "k", "filter", "fuse", "rerank", "models", "exclude_self", "max_distance",
// "min_score", "min_fused_score", "order", "date_field", "offset", "crop"};
// kInvalidArgument for anything else than a JSON object with an integer "id" and values
// of the right types. A cutoff is a number (every model of its kind) or {"MODEL":
// number}; crop is [x, y, w, h].
Result<SearchCall> ParseJsonSearch(std::string_view body);

// The file part "image" and the fields "k", "filter", "fuse", "rerank", "exclude_self"
// and "models" (several parts, or names separated by commas), and those of
// ParseJsonSearch from "max_distance" on as JSON text ("crop" also as "X,Y,W,H").
Result<SearchCall> ParseMultipartSearch(const httplib::MultipartFormDataMap& parts);

// The query of GET /api/duplicates: "hash_distance" (bits), "similarity" (-1..1),
// "hash_model", "confirm_model", "rotations" (true or false); each at most once, numbers
// written in full.
Result<DuplicateOptions> ParseDuplicatesQuery(const httplib::Params& params);

// The part "fields" of an upload, a JSON object; null when there is no such part.
Result<nlohmann::json> ParseUploadFields(const httplib::MultipartFormDataMap& parts);

}  // namespace imgsearch::server
