// Image ids in a store without counters (Milvus): derived from the image's path, so that
// machines indexing one library at once need no coordination to never give two images one
// id, and an interrupted run that is repeated gives each file the id it had before (its
// vectors, already written, are overwritten rather than left behind).
#pragma once

#include <string>
#include <vector>

#include "imgsearch/collection.h"

namespace imgsearch::pipeline {

// 53 bits of a hash of the path (ids stay exact in JavaScript), never 0; `attempt` > 0
// gives the next candidates when another image holds one.
int64_t PathImageId(const std::string& path, int attempt = 0);

// Ids for images new to the library, one per path (paths distinct, none in the library):
// each path's derived id, or, when that id is held by another image (or another path of
// the list), the next attempt's.
Result<std::vector<int64_t>> DerivedImageIds(const Collection& images,
                                             const std::vector<std::string>& paths);

}  // namespace imgsearch::pipeline
