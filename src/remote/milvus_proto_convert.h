// Milvus's gRPC messages <-> the JSON objects of Milvus's REST v2 (rows, schemas, query
// vectors), in both directions: the gRPC service of `imgsearch serve` reads requests and
// writes answers with them, and the store's gRPC client to a real Milvus writes requests
// and reads answers. A message that cannot be read throws MilvusFailure (milvus_codes.h).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common.pb.h"
#include "schema.pb.h"

namespace imgsearch::remote::milvus_proto {

namespace schemapb = milvus::proto::schema;
namespace commonpb = milvus::proto::common;
using FieldDataList = google::protobuf::RepeatedPtrField<schemapb::FieldData>;
using KeyValues = google::protobuf::RepeatedPtrField<commonpb::KeyValuePair>;

// Columns (one FieldData per field; the dynamic field's JSON objects merged into each
// row) -> the dialect's row objects. Vectors become arrays of numbers (binary ones of
// byte values), in memory. Every column must hold `num_rows` values (or, with
// valid_data, one per valid row, as clients send nullable fields).
nlohmann::json RowsFromColumns(const FieldDataList& columns, uint32_t num_rows);

// A float or binary vector column kept in binary form (checked as RowsFromColumns
// checks it): `bytes` holds `count` rows of `bytes_per_row` bytes, float32 values as on
// the wire or packed bits. It views the message, which must outlive it.
struct VectorColumnView {
  std::string name;
  std::string_view bytes;
  size_t bytes_per_row = 0;
  size_t count = 0;
  bool binary = false;
};
// The same as RowsFromColumns, but every vector column without valid_data goes to
// `vectors` instead of into the rows: the gRPC service's writes, whose vectors must not
// become JSON values.
nlohmann::json RowsFromColumns(const FieldDataList& columns, uint32_t num_rows,
                               std::vector<VectorColumnView>* vectors);

// A collection's fields as the dialect describes them (collections/describe "fields").
struct FieldInfo {
  schemapb::DataType type = schemapb::None;
  schemapb::DataType element_type = schemapb::None;  // Array fields
  int64_t id = 0;
  int dim = 0;
};
struct CollectionFields {
  std::map<std::string, FieldInfo> by_name;
  std::vector<std::string> order;  // as described
  std::string primary;
  bool dynamic = false;
};
CollectionFields FieldsFromDescribe(const nlohmann::json& described);

// The dialect's row objects -> columns of `fields`: keys in `names` (in that order) that
// are fields become typed columns; with a dynamic collection the other keys go into the
// "$meta" JSON column, as Milvus returns them. "count(*)" is an Int64 column.
void ColumnsFromRows(const nlohmann::json& rows, const CollectionFields& fields,
                     const std::vector<std::string>& names, FieldDataList* columns);

// schema.CollectionSchema (CreateCollection's bytes) -> the dialect's "schema" object.
nlohmann::json SchemaToJson(const schemapb::CollectionSchema& schema);
// collections/describe's answer -> schema.CollectionSchema.
void SchemaFromDescribe(const nlohmann::json& described, schemapb::CollectionSchema* schema);

// The other direction, for the store's client: the "schema" object of collections/create
// -> schema.CollectionSchema, and schema.CollectionSchema -> collections/describe's
// answer (without "indexes" and "load", which other calls tell).
void SchemaFromJson(const std::string& name, const nlohmann::json& schema_json,
                    schemapb::CollectionSchema* schema);
nlohmann::json DescribeJson(const schemapb::CollectionSchema& schema);

// The dialect's "data" of a search -> the serialized placeholder group (float vectors
// as float32 values, binary vectors from arrays of byte values or base64).
std::string PlaceholdersFromVectors(const nlohmann::json& data, bool binary);

// KeyValuePairs as a map (later pairs win).
std::map<std::string, std::string> KeyValueMap(const KeyValues& pairs);
// A KeyValuePair's value as JSON: parsed if it is JSON, else the text as a string.
nlohmann::json ValueJson(const std::string& text);

}  // namespace imgsearch::remote::milvus_proto
