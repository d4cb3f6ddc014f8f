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

// What is wrong with `v` as a value of field `f` ("must be a string, got 3"), or "" when
// nothing is. Null is a problem only for a field that is not nullable.
std::string ValueProblem(const FieldSchema& f, const nlohmann::json& v);

// Checks a row's vector and fields against the schema. A field left out or null takes
// its default value when it has one; else a nullable field left out becomes null. `row_number` is
// for messages.
Status ValidateRow(const CollectionSchema& schema, size_t row_number, Row* row);

}  // namespace imgsearch::store
