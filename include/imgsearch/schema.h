// Collection schemas: one int64 primary key, one vector field, and scalar fields, as in
// Milvus. Plain data; validated when a collection is created.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "imgsearch/status.h"

namespace imgsearch {

enum class DataType {
  kBool,
  kInt64,
  kDouble,
  kVarChar,
  kJson,
  kArray,
  kFloatVector,
  kBinaryVector
};

// "Bool", "Int64", "Double", "VarChar", "JSON", "Array", "FloatVector", "BinaryVector"
// (Milvus's REST names; "Float" is accepted as Double and "String" as VarChar).
Result<DataType> ParseDataType(const std::string& name);
const char* DataTypeName(DataType type);

struct FieldSchema {
  std::string name;
  DataType type = DataType::kInt64;
  bool nullable = false;
  int max_length = 65535;  // VarChar, and Arrays of VarChar: longest value in bytes
  // Int64 or VarChar only: kept in a hash index, so that a filter "field == value" or
  // "field in [...]" (alone or and-ed with anything) finds its rows without a scan.
  bool indexed = false;
  // Array only: the type of its elements (Bool, Int64, Double or VarChar) and how many it
  // may hold. A value is a JSON array; a filter reads it with array_contains(field, v),
  // array_contains_all/any(field, [...]), array_length(field) and field[i].
  DataType element_type = DataType::kInt64;
  int max_capacity = 0;
  // The value a row that leaves the field out (or gives null) gets; null: none. Scalar
  // types other than JSON and Array only.
  nlohmann::json default_value = nullptr;
};

struct CollectionSchema {
  std::string name;
  std::string description;
  std::string primary_field = "id";
  bool auto_id = true;  // ids assigned by imgsearch; otherwise every row brings its own
  std::string vector_field = "vector";
  DataType vector_type = DataType::kFloatVector;
  int dimension = 0;  // floats, or bits for BinaryVector (a multiple of 8)
  std::vector<FieldSchema> scalar_fields;

  bool binary() const { return vector_type == DataType::kBinaryVector; }
  // Bytes of one vector as stored.
  size_t VectorBytes() const { return binary() ? size_t(dimension) / 8 : size_t(dimension) * 4; }
  const FieldSchema* FindScalar(const std::string& field) const;
  // The JSON field named "$meta", when there is one: as in Milvus, it holds each row's
  // keys outside the schema, and a filter may name those keys as if they were fields.
  static constexpr const char* kDynamicFieldName = "$meta";
  const FieldSchema* DynamicField() const;
};

// Checks names (letters, digits, underscores; not starting with a digit; unique; a leading
// '$' is allowed and marks a field a front end manages), the
// dimension, and the types.
Status ValidateSchema(const CollectionSchema& schema);

}  // namespace imgsearch
