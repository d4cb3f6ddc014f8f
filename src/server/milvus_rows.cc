// Rows and vectors between Milvus's JSON and imgsearch's Row.
#include <charconv>

#include "base/base64.h"
#include "server/milvus_request.h"

namespace imgsearch::server {

using json = nlohmann::json;

namespace {

std::string Where(size_t index, const std::string& field) {
  return "row " + std::to_string(index) + ", field \"" + field + "\": ";
}

std::vector<float> FloatVector(const json& v, int dimension, const std::string& where) {
  if (!v.is_array()) Fail(kMilvusInvalidInsertData, where + "a float vector must be an array");
  if (v.size() != size_t(dimension)) {
    Fail(kMilvusInvalidInsertData, where + "the vector has " + std::to_string(v.size()) +
                                       " values but the collection's dimension is " +
                                       std::to_string(dimension));
  }
  std::vector<float> out;
  out.reserve(v.size());
  for (const json& x : v) {
    if (!x.is_number()) Fail(kMilvusInvalidInsertData, where + "vector values must be numbers");
    out.push_back(x.get<float>());
  }
  return out;
}

// Binary vectors arrive as arrays of byte values or as base64 text (Go's []byte).
std::vector<uint8_t> BinaryVector(const json& v, int bits, const std::string& where) {
  std::string bytes;
  if (v.is_string()) {
    auto decoded = base::Base64Decode(v.get<std::string>());
    if (!decoded) Fail(kMilvusInvalidInsertData, where + "a binary vector string must be base64");
    bytes = *decoded;
  } else if (v.is_array()) {
    for (const json& b : v) {
      if (!b.is_number_integer() || b.get<int64_t>() < 0 || b.get<int64_t>() > 255)
        Fail(kMilvusInvalidInsertData, where + "binary vector bytes must be integers 0..255");
      bytes += char(b.get<int>());
    }
  } else {
    Fail(kMilvusInvalidInsertData, where + "a binary vector is an array of bytes or base64");
  }
  if (bytes.size() * 8 != size_t(bits)) {
    Fail(kMilvusInvalidInsertData, where + "the vector has " + std::to_string(bytes.size() * 8) +
                                       " bits but the collection's dimension is " +
                                       std::to_string(bits));
  }
  return std::vector<uint8_t>(bytes.begin(), bytes.end());
}

int64_t PrimaryKey(const json& v, const std::string& where) {
  if (std::optional<int64_t> id = IntegerOf(v)) return *id;
  Fail(kMilvusCheckPrimaryKey, where + "the primary key must be an Int64, got " + v.dump());
}

}  // namespace

std::optional<int64_t> IntegerOf(const json& v) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (!v.is_string()) return std::nullopt;
  const std::string& s = v.get_ref<const std::string&>();
  int64_t value = 0;
  auto [end, error] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || error != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

Row RowFromMilvus(const CollectionSchema& schema, const json& object, size_t index,
                  bool with_primary) {
  if (!object.is_object())
    Fail(kMilvusInvalidInsertData, "row " + std::to_string(index) + " must be a JSON object");
  Row row;
  bool has_primary = false, has_vector = false;
  for (const auto& [key, value] : object.items()) {
    std::string where = Where(index, key);
    if (key == schema.primary_field) {
      if (!with_primary) {
        Fail(kMilvusInvalidInsertData,
             where + "the primary key is assigned automatically (autoID); leave it out");
      }
      row.id = PrimaryKey(value, where);
      has_primary = true;
    } else if (key == schema.vector_field) {
      if (schema.binary()) {
        row.binary_vector = BinaryVector(value, schema.dimension, where);
      } else {
        row.vector = FloatVector(value, schema.dimension, where);
      }
      has_vector = true;
    } else if (schema.FindScalar(key) != nullptr) {
      row.fields[key] = value;
    } else {
      Fail(kMilvusInvalidInsertData,
           where + "not in the schema of \"" + schema.name +
               "\" (imgsearch has no dynamic fields; add the field to the schema)");
    }
  }
  if (with_primary && !has_primary) {
    Fail(kMilvusInvalidInsertData, "row " + std::to_string(index) + " lacks the primary key \"" +
                                       schema.primary_field + "\"");
  }
  if (!has_vector) {
    Fail(kMilvusInvalidInsertData, "row " + std::to_string(index) + " lacks the vector field \"" +
                                       schema.vector_field + "\"");
  }
  return row;
}

json RowToMilvus(const CollectionSchema& schema, const Row& row,
                 const MilvusApi::Context& context) {
  json out = json::object();
  out[schema.primary_field] = context.Int64Json(row.id);
  for (const auto& [key, value] : row.fields.items()) {
    const FieldSchema* field = schema.FindScalar(key);
    bool int64 = field != nullptr && field->type == DataType::kInt64 && value.is_number_integer();
    out[key] = int64 ? context.Int64Json(value.get<int64_t>()) : value;
  }
  if (!row.vector.empty()) out[schema.vector_field] = row.vector;
  if (!row.binary_vector.empty()) {
    out[schema.vector_field] =
        base::Base64Encode(std::string(row.binary_vector.begin(), row.binary_vector.end()));
  }
  return out;
}

void ReadQueryVectors(const CollectionSchema& schema, const json& data, SearchRequest* request) {
  if (!data.is_array() || data.empty())
    Fail(kMilvusIncorrectParameterFormat, "data must be a non-empty array of query vectors");
  for (size_t i = 0; i < data.size(); ++i) {
    std::string where = "query vector " + std::to_string(i) + ": ";
    if (schema.binary()) {
      request->binary_vectors.push_back(BinaryVector(data[i], schema.dimension, where));
    } else {
      request->vectors.push_back(FloatVector(data[i], schema.dimension, where));
    }
  }
}

std::vector<std::string> OutputFields(const CollectionSchema& schema,
                                      const MilvusApi::Context& context) {
  if (context.Given("outputFields") != nullptr) return context.Strings("outputFields");
  std::vector<std::string> all;
  for (const FieldSchema& f : schema.scalar_fields) all.push_back(f.name);
  return all;
}

std::string IndexName(const Collection& collection) {
  IndexSpec spec = collection.index();
  return spec.name.empty() ? collection.schema().vector_field : spec.name;
}

bool HasIndex(const Collection& collection) {
  IndexSpec spec = collection.index();
  bool flat = spec.index_type == "FLAT" || spec.index_type == "BIN_FLAT";
  return !(flat && spec.name.empty());
}

}  // namespace imgsearch::server
