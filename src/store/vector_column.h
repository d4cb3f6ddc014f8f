// Many rows' vectors at once, without row objects: the duplicates search reads every hash
// of a library and the confirming vectors of its candidates this way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "imgsearch/collection.h"

namespace imgsearch::store {

// Row i has id ids[i] and the vector bytes [i * bytes_per_vector, (i + 1) *
// bytes_per_vector) of `bytes` (floats in the machine's order, binary vectors as stored).
struct VectorColumn {
  std::vector<int64_t> ids;
  std::vector<uint8_t> bytes;
  size_t bytes_per_vector = 0;
};

// The vectors of the rows with these ids (every row's when `ids` is empty), in ascending id
// order; ids that do not exist are left out. The embedded store reads its vector table in
// one statement (a scan in id order, or one prepared lookup per id when they are few);
// another store (Milvus) goes through Get and Query.
Result<VectorColumn> ReadVectors(const Collection& collection, const std::vector<int64_t>& ids);
// The way through Get and Query, for any store.
Result<VectorColumn> ReadVectorsThroughRows(const Collection& collection,
                                            const std::vector<int64_t>& ids);

}  // namespace imgsearch::store
