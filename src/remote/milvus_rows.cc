#include "remote/milvus_rows.h"

#include "base/base64.h"
#include "base/json.h"
#include "remote/milvus_client.h"

namespace imgsearch::remote {
namespace {

using json = nlohmann::json;

Status BadValue(const CollectionSchema& schema, const std::string& field, const json& value,
                const std::string& expected) {
  return Status::Corruption("Milvus answered a row of \"" + schema.name + "\" whose field \"" +
                            field + "\" is " + value.dump().substr(0, 80) + ", not " + expected);
}

Result<std::vector<float>> FloatVectorOf(const CollectionSchema& schema, const json& value) {
  if (!value.is_array() || value.size() != size_t(schema.dimension))
    return BadValue(schema, schema.vector_field, value, "a float vector of the dimension");
  std::vector<float> out;
  out.reserve(value.size());
  for (const json& x : value) {
    if (!x.is_number()) return BadValue(schema, schema.vector_field, value, "numbers");
    out.push_back(x.get<float>());
  }
  return out;
}

Result<std::vector<uint8_t>> BinaryVectorOf(const CollectionSchema& schema, const json& value) {
  std::string bytes;
  if (value.is_string()) {
    auto decoded = base::Base64Decode(value.get<std::string>());
    if (!decoded) return BadValue(schema, schema.vector_field, value, "base64");
    bytes = std::move(*decoded);
  } else if (value.is_array()) {
    for (const json& b : value) {
      if (!b.is_number_integer() || b.get<int64_t>() < 0 || b.get<int64_t>() > 255)
        return BadValue(schema, schema.vector_field, value, "bytes");
      bytes += static_cast<char>(b.get<int>());
    }
  }
  if (bytes.size() != schema.VectorBytes())
    return BadValue(schema, schema.vector_field, value, "a binary vector of the dimension");
  return std::vector<uint8_t>(bytes.begin(), bytes.end());
}

// A scalar as Milvus answered it, in the form imgsearch's rows hold.
Result<json> ScalarOf(const CollectionSchema& schema, const FieldSchema& field, const json& value) {
  if (value.is_null()) return value;
  switch (field.type) {
    case DataType::kInt64: {
      std::optional<int64_t> v = Int64Of(value);
      if (!v) return BadValue(schema, field.name, value, "an Int64");
      return json(*v);
    }
    case DataType::kJson: {
      if (!value.is_string()) return value;  // already JSON
      auto parsed = base::ParseJson(value.get<std::string>());
      if (!parsed.ok()) return BadValue(schema, field.name, value, "JSON text");
      return std::move(parsed).value();
    }
    case DataType::kDouble:
      if (!value.is_number()) return BadValue(schema, field.name, value, "a number");
      return value;
    case DataType::kBool:
      if (!value.is_boolean()) return BadValue(schema, field.name, value, "true or false");
      return value;
    default:
      if (!value.is_string()) return BadValue(schema, field.name, value, "a string");
      return value;
  }
}

std::string ParamOf(const json& field, const char* key) {
  auto read = [&](const json& params) -> std::string {
    if (params.is_object() && params.contains(key)) {
      const json& v = params[key];
      return v.is_string() ? v.get<std::string>() : v.dump();
    }
    if (params.is_array()) {  // [{"key": "dim", "value": "128"}]
      for (const json& kv : params) {
        if (kv.is_object() && TextOf(kv, "key") == key) {
          const json& v = kv.contains("value") ? kv["value"] : json();
          return v.is_string() ? v.get<std::string>() : v.dump();
        }
      }
    }
    return "";
  };
  std::string found = field.contains("params") ? read(field["params"]) : "";
  if (found.empty() && field.contains("elementTypeParams"))
    found = read(field["elementTypeParams"]);
  return found;
}

Result<int> IntParam(const json& field, const char* key, int fallback) {
  std::string text = ParamOf(field, key);
  if (text.empty()) return fallback;
  std::optional<int64_t> v = Int64Of(json(text));
  if (!v || *v < 0 || *v > (1 << 30))
    return Status::Corruption("Milvus described field " + field.dump() + " with a bad " + key);
  return static_cast<int>(*v);
}

}  // namespace

json RowToMilvus(const CollectionSchema& schema, const Row& row) {
  json out = row.fields.is_object() ? row.fields : json::object();
  if (!schema.auto_id) out[schema.primary_field] = row.id;
  if (schema.binary()) {
    json bytes = json::array();
    for (uint8_t b : row.binary_vector) bytes.push_back(b);
    out[schema.vector_field] = std::move(bytes);
  } else {
    out[schema.vector_field] = row.vector;
  }
  return out;
}

Result<Row> RowFromMilvus(const CollectionSchema& schema, const json& object) {
  if (!object.is_object())
    return Status::Corruption("Milvus answered a row of \"" + schema.name +
                              "\" that is not an object");
  Row row;
  const json* id = object.contains("id") ? &object["id"] : nullptr;  // search hits
  if (id == nullptr && object.contains(schema.primary_field)) id = &object[schema.primary_field];
  std::optional<int64_t> value = id ? Int64Of(*id) : std::nullopt;
  if (!value) return BadValue(schema, schema.primary_field, object, "a row with its Int64 key");
  row.id = *value;
  for (const auto& [key, v] : object.items()) {
    if (key == schema.vector_field) {
      if (schema.binary()) {
        IMGSEARCH_ASSIGN_OR_RETURN(row.binary_vector, BinaryVectorOf(schema, v));
      } else {
        IMGSEARCH_ASSIGN_OR_RETURN(row.vector, FloatVectorOf(schema, v));
      }
    } else if (const FieldSchema* field = schema.FindScalar(key)) {
      IMGSEARCH_ASSIGN_OR_RETURN(row.fields[key], ScalarOf(schema, *field, v));
    }  // the key, "distance", and anything Milvus adds are not fields
  }
  return row;
}

json SchemaToMilvus(const CollectionSchema& schema) {
  json fields = json::array();
  fields.push_back(
      {{"fieldName", schema.primary_field}, {"dataType", "Int64"}, {"isPrimary", true}});
  fields.push_back({{"fieldName", schema.vector_field},
                    {"dataType", DataTypeName(schema.vector_type)},
                    {"elementTypeParams", {{"dim", std::to_string(schema.dimension)}}}});
  for (const FieldSchema& f : schema.scalar_fields) {
    json field = {{"fieldName", f.name}, {"dataType", DataTypeName(f.type)}};
    if (f.type == DataType::kVarChar)
      field["elementTypeParams"] = {{"max_length", std::to_string(f.max_length)}};
    if (f.nullable) field["nullable"] = true;
    fields.push_back(std::move(field));
  }
  return {{"autoID", schema.auto_id}, {"enableDynamicField", false}, {"fields", fields}};
}

json IndexToMilvus(const CollectionSchema& schema, const IndexSpec& index) {
  return {{"fieldName", schema.vector_field},
          {"indexName", index.name.empty() ? schema.vector_field : index.name},
          {"metricType", index.metric_type},
          {"indexType", index.index_type},
          {"params", index.params.is_object() ? index.params : json::object()}};
}

Result<CollectionSchema> SchemaFromMilvus(const json& described) {
  CollectionSchema schema;
  schema.name = TextOf(described, "collectionName");
  if (described.contains("description") && described["description"].is_string())
    schema.description = described["description"].get<std::string>();
  const json& fields = described.contains("fields") ? described["fields"] : json();
  if (!fields.is_array())
    return Status::Corruption("Milvus described " + schema.name + " without fields");
  bool has_primary = false, has_vector = false;
  for (const json& f : fields) {
    std::string name = TextOf(f, "name", TextOf(f, "fieldName"));
    std::string type = TextOf(f, "type", TextOf(f, "dataType"));
    if (FlagOf(f, "primaryKey", FlagOf(f, "isPrimary", false))) {
      if (type != "Int64")
        return Status::Unsupported(schema.name + ": its primary key is " + type + ", not Int64");
      schema.primary_field = name;
      schema.auto_id = FlagOf(f, "autoId", FlagOf(described, "autoId", false));
      has_primary = true;
      continue;
    }
    if (type == "Int8" || type == "Int16" || type == "Int32") type = "Int64";
    auto parsed = ParseDataType(type);
    if (!parsed.ok()) return parsed.status().WithContext(schema.name + " field " + name);
    if (*parsed == DataType::kArray)
      return Status::Unsupported(schema.name + " field " + name +
                                 ": the Milvus store reads no Array fields");
    if (*parsed == DataType::kFloatVector || *parsed == DataType::kBinaryVector) {
      if (has_vector) return Status::Unsupported(schema.name + " has more than one vector field");
      schema.vector_field = name;
      schema.vector_type = *parsed;
      IMGSEARCH_ASSIGN_OR_RETURN(schema.dimension, IntParam(f, "dim", 0));
      has_vector = true;
      continue;
    }
    FieldSchema scalar;
    scalar.name = name;
    scalar.type = *parsed;
    scalar.nullable = FlagOf(f, "nullable", false);
    IMGSEARCH_ASSIGN_OR_RETURN(scalar.max_length, IntParam(f, "max_length", scalar.max_length));
    schema.scalar_fields.push_back(scalar);
  }
  if (!has_primary || !has_vector)
    return Status::Unsupported(schema.name + " lacks an Int64 primary key or a vector field");
  return schema;
}

IndexSpec IndexFromMilvus(const CollectionSchema& schema, const json& described,
                          const json& index_details) {
  IndexSpec spec(schema.binary() ? "BIN_FLAT" : "FLAT", schema.binary() ? "HAMMING" : "L2");
  const json& indexes = described.contains("indexes") ? described["indexes"] : json();
  if (indexes.is_array()) {
    for (const json& index : indexes) {
      if (!index.is_object() || TextOf(index, "fieldName") != schema.vector_field) continue;
      spec.name = TextOf(index, "indexName");
      spec.metric_type = TextOf(index, "metricType", spec.metric_type);
      spec.index_type = "AUTOINDEX";  // until indexes/describe says which
    }
  }
  if (index_details.is_object()) {
    spec.index_type = TextOf(index_details, "indexType", spec.index_type);
    spec.metric_type = TextOf(index_details, "metricType", spec.metric_type);
    if (index_details.contains("params") && index_details["params"].is_object())
      spec.params = index_details["params"];
  }
  return spec;
}

}  // namespace imgsearch::remote
