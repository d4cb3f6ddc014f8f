#include "store/vector_column.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "store/collection_impl.h"

namespace imgsearch::store {

Result<VectorColumn> ReadVectors(const Collection& collection, const std::vector<int64_t>& ids) {
  if (const auto* embedded = dynamic_cast<const CollectionImpl*>(&collection))
    return embedded->ReadVectors(ids);
  return ReadVectorsThroughRows(collection, ids);
}

Result<VectorColumn> ReadVectorsThroughRows(const Collection& collection,
                                            const std::vector<int64_t>& ids) {
  const CollectionSchema& s = collection.schema();
  std::vector<Row> rows;
  if (ids.empty()) {
    QueryRequest all;
    all.limit = std::numeric_limits<int64_t>::max();
    all.output_fields = {s.vector_field};
    IMGSEARCH_ASSIGN_OR_RETURN(rows, collection.Query(all));
  } else {
    IMGSEARCH_ASSIGN_OR_RETURN(rows, collection.Get(ids, {s.vector_field}));
    std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.id < b.id; });
    rows.erase(std::unique(rows.begin(), rows.end(),
                           [](const Row& a, const Row& b) { return a.id == b.id; }),
               rows.end());
  }
  VectorColumn column;
  column.bytes_per_vector = s.VectorBytes();
  column.ids.reserve(rows.size());
  column.bytes.resize(rows.size() * column.bytes_per_vector);
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& row = rows[i];
    const void* data = s.binary() ? static_cast<const void*>(row.binary_vector.data())
                                  : static_cast<const void*>(row.vector.data());
    size_t size = s.binary() ? row.binary_vector.size() : row.vector.size() * sizeof(float);
    if (size != column.bytes_per_vector)
      return Status::Corruption("collection \"" + s.name + "\": row " + std::to_string(row.id) +
                                " has no vector of " + std::to_string(column.bytes_per_vector) +
                                " bytes");
    column.ids.push_back(row.id);
    std::memcpy(column.bytes.data() + i * column.bytes_per_vector, data, size);
  }
  return column;
}

}  // namespace imgsearch::store
