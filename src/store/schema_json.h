// Schemas and index specs to and from JSON (the catalog stores them this way), and row
// validation against a schema.
#pragma once

#include <nlohmann/json.hpp>

#include "imgsearch/collection.h"

namespace imgsearch::store {

nlohmann::json SchemaToJson(const CollectionSchema& schema);
Result<CollectionSchema> SchemaFromJson(const nlohmann::json& j);
nlohmann::json IndexSpecToJson(const IndexSpec& spec);
Result<IndexSpec> IndexSpecFromJson(const nlohmann::json& j);

// Checks a row's vector and fields against the schema and fills absent nullable fields
// with null. `row_number` is for messages.
Status ValidateRow(const CollectionSchema& schema, size_t row_number, Row* row);

}  // namespace imgsearch::store
