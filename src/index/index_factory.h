// The one place that turns Milvus-style index descriptions into indexes:
//   {"index_type": "HNSW", "metric_type": "COSINE", "params": {"M": 16, "efConstruction": 200}}
// and Milvus-style search parameters ({"ef": 64}, {"nprobe": 16}) into SearchParams.
// Wrong combinations are errors that say what would be right.
#pragma once

#include <nlohmann/json.hpp>

#include "index/index.h"

namespace imgsearch::index {

struct IndexDescription {
  // FLAT, IVF_FLAT, IVF_SQ8, IVF_PQ, HNSW, HNSW_SQ, BIN_FLAT, BIN_IVF_FLAT, AUTOINDEX
  std::string type = "FLAT";
  Metric metric = Metric::kL2;
  nlohmann::json params = nlohmann::json::object();
};

// dim: floats per vector, or bits for binary vectors.
Result<std::unique_ptr<Index>> MakeIndex(const IndexDescription& description, bool binary_vectors,
                                         size_t dim);

// Checks a description without building anything; resolves AUTOINDEX to a concrete type.
Result<IndexDescription> ValidateIndexDescription(IndexDescription description, bool binary_vectors,
                                                  size_t dim);

// Reads ef / nprobe / refine_k from Milvus search params; other keys the store handles (radius,
// range_filter) are ignored here, anything else is an error.
Result<SearchParams> ParseSearchParams(const nlohmann::json& params);

// Indexes whose distances are approximations, which the store re-ranks exactly from the
// stored rows (IVF_SQ8, IVF_PQ). HNSW_SQ answers with its codes' distances, or its
// refine copy's, as Milvus's does.
bool IsLossy(const std::string& type);

}  // namespace imgsearch::index
