// Rows and vectors between Milvus's JSON and imgsearch's Row.
#include <algorithm>
#include <charconv>
#include <cstring>

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

MilvusView ViewOf(const CollectionSchema& schema) {
  MilvusView view;
  view.schema = &schema;
  view.primary_field = schema.primary_field;
  // Under a VarChar key the store's id is hidden and the key is the first scalar field.
  if (schema.primary_field == kHiddenIdField && !schema.scalar_fields.empty()) {
    const FieldSchema& key = schema.scalar_fields.front();
    view.primary_field = key.name;
    view.varchar_key = true;
    view.key_max_length = key.max_length;
  }
  view.dynamic = schema.DynamicField() != nullptr;
  view.partitioned = schema.FindScalar(kPartitionField) != nullptr;
  return view;
}

Row RowFromMilvus(const MilvusView& view, const json& object, size_t index, bool with_primary,
                  const std::string& partition, const MilvusVectorColumn* vectors) {
  if (!object.is_object())
    Fail(kMilvusInvalidInsertData, "row " + std::to_string(index) + " must be a JSON object");
  const CollectionSchema& schema = *view.schema;
  Row row;
  json meta = json::object();
  bool has_primary = false, has_vector = false;
  for (const auto& [key, value] : object.items()) {
    std::string where = Where(index, key);
    if (key == view.primary_field) {
      if (!with_primary) {
        Fail(kMilvusInvalidInsertData,
             where + "the primary key is assigned automatically (autoID); leave it out");
      }
      if (view.varchar_key) {
        if (!value.is_string() || value.get_ref<const std::string&>().empty())
          Fail(kMilvusCheckPrimaryKey, where + "the primary key must be a non-empty string");
        row.fields[key] = value;
      } else {
        row.id = PrimaryKey(value, where);
      }
      has_primary = true;
    } else if (key == schema.vector_field) {
      if (vectors != nullptr) Fail(kMilvusInvalidInsertData, where + "the vector is given twice");
      ReadRowVector(schema, value, where, &row);
      has_vector = true;
    } else if (!key.empty() && key[0] == '$') {
      Fail(kMilvusInvalidInsertData, where + "names starting with $ are reserved");
    } else if (schema.FindScalar(key) != nullptr) {
      row.fields[key] = value;
    } else if (view.dynamic) {
      meta[key] = value;
    } else {
      Fail(kMilvusInvalidInsertData,
           where + "not in the schema of \"" + schema.name +
               "\" (the collection has no dynamic fields: add the field to the schema, or "
               "create the collection with enableDynamicField)");
    }
  }
  if (with_primary && !has_primary) {
    Fail(kMilvusInvalidInsertData,
         "row " + std::to_string(index) + " lacks the primary key \"" + view.primary_field + "\"");
  }
  if (vectors != nullptr) {
    ReadRowVector(*vectors, index, &row);
    has_vector = true;
  }
  if (!has_vector) {
    Fail(kMilvusInvalidInsertData, "row " + std::to_string(index) + " lacks the vector field \"" +
                                       schema.vector_field + "\"");
  }
  if (view.dynamic) row.fields[CollectionSchema::kDynamicFieldName] = std::move(meta);
  if (view.partitioned) row.fields[kPartitionField] = partition;
  return row;
}

json PrimaryKeyJson(const MilvusView& view, const Row& row, const MilvusApi::Context& context) {
  if (!view.varchar_key) return context.Int64Json(row.id);
  auto it = row.fields.find(view.primary_field);
  return it == row.fields.end() ? json() : *it;
}

json RowToMilvus(const MilvusView& view, const Row& row, const MilvusApi::Context& context,
                 const DynamicOutput& dynamic) {
  const CollectionSchema& schema = *view.schema;
  json out = json::object();
  out[view.primary_field] = PrimaryKeyJson(view, row, context);
  for (const auto& [key, value] : row.fields.items()) {
    if (key == CollectionSchema::kDynamicFieldName) {
      if (!value.is_object()) continue;
      // Milvus flattens the dynamic keys into the row.
      for (const auto& [name, v] : value.items()) {
        if (dynamic.all || dynamic.keys.count(name)) out[name] = v;
      }
      continue;
    }
    if (!key.empty() && key[0] == '$') continue;  // hidden fields ($partition)
    const FieldSchema* field = schema.FindScalar(key);
    if (field != nullptr && field->type == DataType::kInt64 && value.is_number_integer()) {
      out[key] = context.Int64Json(value.get<int64_t>());
    } else if (field != nullptr && field->type == DataType::kJson && !value.is_null()) {
      out[key] = value.dump();  // Milvus returns JSON fields as JSON text
    } else {
      out[key] = value;
    }
  }
  if (!row.vector.empty() || !row.binary_vector.empty())
    out[schema.vector_field] = VectorJson(schema, row);
  return out;
}

json VectorJson(const CollectionSchema& schema, const Row& row) {
  if (!schema.binary()) return row.vector;
  return base::Base64Encode(std::string(row.binary_vector.begin(), row.binary_vector.end()));
}

void ReadRowVector(const CollectionSchema& schema, const json& value, const std::string& where,
                   Row* row) {
  if (schema.binary()) {
    row->binary_vector = BinaryVector(value, schema.dimension, where);
  } else {
    row->vector = FloatVector(value, schema.dimension, where);
  }
}

const MilvusVectorColumn* MilvusApi::Context::VectorColumn(const CollectionSchema& schema,
                                                           size_t rows) const {
  auto it = binary.columns.find(schema.vector_field);
  if (it == binary.columns.end()) return nullptr;
  const MilvusVectorColumn& column = it->second;
  std::string where = "field \"" + schema.vector_field + "\": ";
  if (column.binary != schema.binary()) {
    Fail(kMilvusInvalidInsertData,
         where + "the collection holds " + (schema.binary() ? "binary" : "float") + " vectors");
  }
  if (column.bytes_per_row != schema.VectorBytes()) {
    size_t per_row =
        column.binary ? column.bytes_per_row * 8 : column.bytes_per_row / sizeof(float);
    Fail(kMilvusInvalidInsertData, where + "the vectors have " + std::to_string(per_row) +
                                       (column.binary ? " bits" : " values") +
                                       " but the collection's dimension is " +
                                       std::to_string(schema.dimension));
  }
  if (column.bytes.size() != rows * column.bytes_per_row) {
    Fail(kMilvusInvalidInsertData, where + "has " +
                                       std::to_string(column.bytes.size() / column.bytes_per_row) +
                                       " vectors for " + std::to_string(rows) + " rows");
  }
  return &column;
}

void ReadRowVector(const MilvusVectorColumn& column, size_t index, Row* row) {
  const char* at = column.bytes.data() + index * column.bytes_per_row;
  if (column.binary) {
    row->binary_vector.assign(at, at + column.bytes_per_row);
  } else {
    row->vector.resize(column.bytes_per_row / sizeof(float));
    std::memcpy(row->vector.data(), at, column.bytes_per_row);
  }
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

std::vector<std::string> StoreOutputFields(const MilvusView& view, const MilvusApi::Context& c,
                                           const json* requested, DynamicOutput* dynamic) {
  const CollectionSchema& schema = *view.schema;
  std::vector<std::string> out;
  if (requested == nullptr || requested->is_null()) {
    for (const FieldSchema& f : schema.scalar_fields) {
      if (f.name[0] != '$') out.push_back(f.name);
    }
    return out;
  }
  if (!requested->is_array())
    Fail(kMilvusIncorrectParameterFormat, "outputFields must be an array of strings");
  bool want_meta = false;
  for (const json& name_json : *requested) {
    if (!name_json.is_string())
      Fail(kMilvusIncorrectParameterFormat, "outputFields must be an array of strings");
    const std::string& name = name_json.get_ref<const std::string&>();
    if (name == "*") {
      dynamic->all = true;
      out.push_back("*");
    } else if (name == CollectionSchema::kDynamicFieldName && view.dynamic) {
      dynamic->all = true;
      want_meta = true;
    } else if (name == view.primary_field) {
      continue;  // always returned
    } else if (name == schema.vector_field || (schema.FindScalar(name) && name[0] != '$')) {
      out.push_back(name);
    } else if (view.dynamic && !name.empty() && name[0] != '$') {
      dynamic->keys.insert(name);
      want_meta = true;
    } else {
      Fail(kMilvusParameterInvalid,
           "output field \"" + name + "\" is not in the schema of \"" + schema.name + "\"");
    }
  }
  if (want_meta) out.push_back(CollectionSchema::kDynamicFieldName);
  // A VarChar key is a field: read it always, as Milvus always returns the key.
  if (view.varchar_key && std::find(out.begin(), out.end(), "*") == out.end() &&
      std::find(out.begin(), out.end(), view.primary_field) == out.end())
    out.push_back(view.primary_field);
  (void)c;
  return out;
}

namespace {

// Whether the parentheses outside string literals balance and never close more than
// they opened.
bool Balanced(const std::string& filter) {
  int depth = 0;
  char quote = 0;
  for (size_t i = 0; i < filter.size(); ++i) {
    char ch = filter[i];
    if (quote != 0) {
      if (ch == '\\') {
        ++i;
      } else if (ch == quote) {
        quote = 0;
      }
    } else if (ch == '"' || ch == '\'') {
      quote = ch;
    } else if (ch == '(') {
      ++depth;
    } else if (ch == ')' && --depth < 0) {
      return false;
    }
  }
  return depth == 0 && quote == 0;
}

}  // namespace

std::string AndFilters(const std::string& a, const std::string& b) {
  bool blank_a = a.find_first_not_of(" \t\r\n") == std::string::npos;
  bool blank_b = b.find_first_not_of(" \t\r\n") == std::string::npos;
  if (blank_b) return a;
  if (blank_a) return b;
  if (!Balanced(a) || !Balanced(b))
    Fail(kMilvusParameterInvalid, "the filter's parentheses or quotes do not balance");
  return "(" + a + ") and (" + b + ")";
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
