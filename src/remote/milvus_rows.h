// Rows between imgsearch's Row and Milvus's JSON, and collection schemas and index
// parameters between imgsearch's and Milvus's REST v2 forms. Reading takes Milvus's
// answers as they really are: Int64 values as numbers or as decimal strings, JSON fields
// as objects or as JSON-encoded strings, binary vectors as base64 (Go's []byte) or as
// byte arrays, and a search hit's primary key under "id" whatever the field is called.
#pragma once

#include <nlohmann/json.hpp>

#include "imgsearch/collection.h"

namespace imgsearch::remote {

// A row as entities/insert and entities/upsert take it (the primary key left out for
// autoID collections).
nlohmann::json RowToMilvus(const CollectionSchema& schema, const Row& row);
// A row of a query, get or search answer.
Result<Row> RowFromMilvus(const CollectionSchema& schema, const nlohmann::json& object);

// The "schema" of collections/create: the primary key, the vector field, the scalars.
nlohmann::json SchemaToMilvus(const CollectionSchema& schema);
// The "indexParams" entry for the vector field.
nlohmann::json IndexToMilvus(const CollectionSchema& schema, const IndexSpec& index);
// The schema in a collections/describe answer's data.
Result<CollectionSchema> SchemaFromMilvus(const nlohmann::json& described);
// The index from collections/describe's "indexes" and, when there is one, the entry of
// indexes/describe (`index_details`, null when unknown).
IndexSpec IndexFromMilvus(const CollectionSchema& schema, const nlohmann::json& described,
                          const nlohmann::json& index_details);

}  // namespace imgsearch::remote
