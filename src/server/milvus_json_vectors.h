// REST's query vectors without JSON values: parsing a search body's 512 floats into
// nlohmann values and converting them back costs more CPU than the search itself, so
// MilvusApi::Call reads them straight into float32 values when it safely can, and hands
// them to the dialect as a transport's QueryVectors (as the gRPC transport does).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "server/milvus_api.h"

namespace imgsearch::server {

struct SplitSearchBody {
  std::string rest;      // the body with the value of "data" replaced by null
  QueryVectors vectors;  // float32 values (from_json set)
};

// The top-level "data" of a JSON object `body` when it is a non-empty array of
// non-empty arrays of JSON numbers, each array with at least one number that has a
// fraction or an exponent (so that it cannot be a binary vector's bytes), every number
// within float range. Nothing for anything else (the body is then parsed as it is):
// other shapes of "data", no "data" or two of them, keys with escapes, text that is not
// JSON where the scan passes.
std::optional<SplitSearchBody> SplitQueryVectors(std::string_view body);

}  // namespace imgsearch::server
