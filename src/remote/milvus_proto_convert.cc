#include "remote/milvus_proto_convert.h"

#include <cstring>

#include "base/base64.h"
#include "base/json.h"
#include "remote/milvus_client.h"
#include "remote/milvus_codes.h"

namespace imgsearch::remote::milvus_proto {

using json = nlohmann::json;

namespace {

const char* kMetaField = "$meta";

[[noreturn]] void FailColumn(const std::string& field, const std::string& problem) {
  Fail(kMilvusInvalidInsertData, "field \"" + field + "\": " + problem);
}

// How many values a column holds, and a way to read value i as JSON.
struct Column {
  const schemapb::FieldData* data;
  size_t count = 0;
  int dim = 0;  // vectors: values per row (floats) or bytes per row (binary)

  json Value(size_t i) const;
};

Column ReadColumn(const schemapb::FieldData& f) {
  Column c{&f};
  const std::string& name = f.field_name();
  if (f.has_vectors()) {
    const schemapb::VectorField& v = f.vectors();
    if (v.dim() <= 0 || v.dim() > (1 << 16)) FailColumn(name, "vector dim must be 1..65536");
    if (v.has_float_vector()) {
      c.dim = int(v.dim());
      if (v.float_vector().data_size() % c.dim != 0)
        FailColumn(name, "the float vector data is not a whole number of vectors");
      c.count = size_t(v.float_vector().data_size()) / size_t(c.dim);
    } else if (v.data_case() == schemapb::VectorField::kBinaryVector) {
      if (v.dim() % 8 != 0) FailColumn(name, "a binary vector's dim must be a multiple of 8");
      c.dim = int(v.dim() / 8);
      if (v.binary_vector().size() % size_t(c.dim) != 0)
        FailColumn(name, "the binary vector data is not a whole number of vectors");
      c.count = v.binary_vector().size() / size_t(c.dim);
    } else {
      Fail(kMilvusParameterInvalid, "field \"" + name +
                                        "\": imgsearch stores float and binary vectors only (not " +
                                        schemapb::DataType_Name(f.type()) + ")");
    }
    return c;
  }
  const schemapb::ScalarField& s = f.scalars();
  switch (s.data_case()) {
    case schemapb::ScalarField::kBoolData:
      c.count = size_t(s.bool_data().data_size());
      break;
    case schemapb::ScalarField::kIntData:
      c.count = size_t(s.int_data().data_size());
      break;
    case schemapb::ScalarField::kLongData:
      c.count = size_t(s.long_data().data_size());
      break;
    case schemapb::ScalarField::kFloatData:
      c.count = size_t(s.float_data().data_size());
      break;
    case schemapb::ScalarField::kDoubleData:
      c.count = size_t(s.double_data().data_size());
      break;
    case schemapb::ScalarField::kStringData:
      c.count = size_t(s.string_data().data_size());
      break;
    case schemapb::ScalarField::kJsonData:
      c.count = size_t(s.json_data().data_size());
      break;
    case schemapb::ScalarField::kArrayData:
      c.count = size_t(s.array_data().data_size());
      break;
    case schemapb::ScalarField::DATA_NOT_SET:
      c.count = 0;
      break;
    default:
      Fail(kMilvusParameterInvalid,
           "field \"" + name + "\": imgsearch does not store " + schemapb::DataType_Name(f.type()));
  }
  return c;
}

json ArrayValue(const schemapb::ScalarField& s) {
  json out = json::array();
  switch (s.data_case()) {
    case schemapb::ScalarField::kBoolData:
      for (bool b : s.bool_data().data()) out.push_back(b);
      break;
    case schemapb::ScalarField::kIntData:
      for (int32_t v : s.int_data().data()) out.push_back(v);
      break;
    case schemapb::ScalarField::kLongData:
      for (int64_t v : s.long_data().data()) out.push_back(v);
      break;
    case schemapb::ScalarField::kFloatData:
      for (float v : s.float_data().data()) out.push_back(v);
      break;
    case schemapb::ScalarField::kDoubleData:
      for (double v : s.double_data().data()) out.push_back(v);
      break;
    case schemapb::ScalarField::kStringData:
      for (const std::string& v : s.string_data().data()) out.push_back(v);
      break;
    default:
      Fail(kMilvusParameterInvalid, "array elements must be scalars");
  }
  return out;
}

json JsonValue(const std::string& bytes, const std::string& field) {
  Result<json> parsed = base::ParseJson(bytes);
  if (!parsed.ok()) FailColumn(field, "a JSON value does not parse: " + parsed.status().message());
  return std::move(parsed).value();
}

json ValueFieldJson(const schemapb::ValueField& v) {
  switch (v.data_case()) {
    case schemapb::ValueField::kBoolData:
      return v.bool_data();
    case schemapb::ValueField::kIntData:
      return v.int_data();
    case schemapb::ValueField::kLongData:
      return v.long_data();
    case schemapb::ValueField::kFloatData:
      return v.float_data();
    case schemapb::ValueField::kDoubleData:
      return v.double_data();
    case schemapb::ValueField::kStringData:
      return v.string_data();
    default:
      Fail(kMilvusParameterInvalid, "a default value must be a boolean, number or string");
  }
}

void SetValueField(const json& v, schemapb::DataType type, schemapb::ValueField* out) {
  switch (type) {
    case schemapb::Bool:
      out->set_bool_data(v.is_boolean() && v.get<bool>());
      break;
    case schemapb::Int8:
    case schemapb::Int16:
    case schemapb::Int32:
      out->set_int_data(int32_t(Int64Of(v).value_or(0)));
      break;
    case schemapb::Int64:
      out->set_long_data(Int64Of(v).value_or(0));
      break;
    case schemapb::Float:
      out->set_float_data(v.is_number() ? v.get<float>() : 0.f);
      break;
    case schemapb::Double:
      out->set_double_data(v.is_number() ? v.get<double>() : 0.0);
      break;
    default:
      out->set_string_data(v.is_string() ? v.get<std::string>() : v.dump());
  }
}

// An Array field's element type (under `element_key`: describe's "elementType", create's
// "elementDataType") and a field's "defaultValue", onto `f` (its data type set).
void SetElementAndDefault(const json& field, const char* element_key, schemapb::FieldSchema* f) {
  if (field.contains(element_key)) {
    schemapb::DataType element = schemapb::None;
    schemapb::DataType_Parse(field.value(element_key, ""), &element);
    f->set_element_type(element);
  }
  if (field.contains("defaultValue"))
    SetValueField(field["defaultValue"], f->data_type(), f->mutable_default_value());
}

json Column::Value(size_t i) const {
  const schemapb::FieldData& f = *data;
  if (f.has_vectors()) {
    const schemapb::VectorField& v = f.vectors();
    json out = json::array();
    if (v.has_float_vector()) {
      const float* values = v.float_vector().data().data() + i * size_t(dim);
      out.get_ref<json::array_t&>().reserve(size_t(dim));
      for (int d = 0; d < dim; ++d) out.push_back(values[d]);
    } else {
      const std::string& bytes = v.binary_vector();
      for (int d = 0; d < dim; ++d) out.push_back(uint8_t(bytes[i * size_t(dim) + size_t(d)]));
    }
    return out;
  }
  const schemapb::ScalarField& s = f.scalars();
  switch (s.data_case()) {
    case schemapb::ScalarField::kBoolData:
      return s.bool_data().data(int(i));
    case schemapb::ScalarField::kIntData:
      return s.int_data().data(int(i));
    case schemapb::ScalarField::kLongData:
      return s.long_data().data(int(i));
    case schemapb::ScalarField::kFloatData:
      return s.float_data().data(int(i));
    case schemapb::ScalarField::kDoubleData:
      return s.double_data().data(int(i));
    case schemapb::ScalarField::kStringData:
      return s.string_data().data(int(i));
    case schemapb::ScalarField::kJsonData:
      return JsonValue(s.json_data().data(int(i)), f.field_name());
    case schemapb::ScalarField::kArrayData:
      return ArrayValue(s.array_data().data(int(i)));
    default:
      return nullptr;
  }
}

// A vector column's bytes, in place.
VectorColumnView VectorBytes(const Column& c) {
  const schemapb::VectorField& v = c.data->vectors();
  VectorColumnView out;
  out.name = c.data->field_name();
  out.count = c.count;
  out.binary = !v.has_float_vector();
  if (out.binary) {
    out.bytes = v.binary_vector();
    out.bytes_per_row = size_t(c.dim);
  } else {
    const auto& values = v.float_vector().data();
    out.bytes = std::string_view(reinterpret_cast<const char*>(values.data()),
                                 size_t(values.size()) * sizeof(float));
    out.bytes_per_row = size_t(c.dim) * sizeof(float);
  }
  return out;
}

}  // namespace

json RowsFromColumns(const FieldDataList& columns, uint32_t num_rows) {
  return RowsFromColumns(columns, num_rows, nullptr);
}

json RowsFromColumns(const FieldDataList& columns, uint32_t num_rows,
                     std::vector<VectorColumnView>* vectors) {
  std::vector<Column> read;
  for (const schemapb::FieldData& f : columns) read.push_back(ReadColumn(f));
  if (num_rows == 0 && !read.empty()) num_rows = uint32_t(read.front().count);
  json rows = json::array();
  for (uint32_t r = 0; r < num_rows; ++r) rows.push_back(json::object());
  for (const Column& c : read) {
    const schemapb::FieldData& f = *c.data;
    const std::string& name = f.field_name();
    if (name.empty()) Fail(kMilvusInvalidInsertData, "every field data needs a field_name");
    if (vectors != nullptr && f.has_vectors() && f.valid_data_size() == 0) {
      if (c.count != num_rows) {
        FailColumn(name, "has " + std::to_string(c.count) + " values for " +
                             std::to_string(num_rows) + " rows");
      }
      vectors->push_back(VectorBytes(c));
      continue;
    }
    bool with_valid = f.valid_data_size() > 0;
    if (with_valid && size_t(f.valid_data_size()) != num_rows)
      FailColumn(name, "valid_data must have one entry per row");
    size_t valid = 0;
    for (bool v : f.valid_data()) valid += v ? 1 : 0;
    // Clients send nullable columns compact (a value per valid row) or in full.
    bool compact = with_valid && c.count == valid && valid != num_rows;
    if (!compact && c.count != num_rows) {
      FailColumn(name, "has " + std::to_string(c.count) + " values for " +
                           std::to_string(num_rows) + " rows");
    }
    size_t next = 0;
    for (uint32_t r = 0; r < num_rows; ++r) {
      bool present = !with_valid || f.valid_data(int(r));
      size_t index = compact ? next : r;
      if (present) ++next;
      json& row = rows[r];
      if (f.is_dynamic() || name == kMetaField) {
        if (!present) continue;
        json keys = c.Value(index);
        if (!keys.is_object()) FailColumn(name, "each dynamic value must be a JSON object");
        for (auto& [key, value] : keys.items()) {
          if (!row.contains(key)) row[key] = std::move(value);
        }
      } else {
        row[name] = present ? c.Value(index) : json(nullptr);
      }
    }
  }
  return rows;
}

CollectionFields FieldsFromDescribe(const json& described) {
  CollectionFields out;
  out.dynamic = described.value("enableDynamicField", false);
  for (const json& field : described.value("fields", json::array())) {
    std::string name = field.value("name", "");
    FieldInfo info;
    schemapb::DataType type = schemapb::None;
    schemapb::DataType_Parse(field.value("type", ""), &type);
    info.type = type;
    info.id = field.value("id", int64_t(0));
    schemapb::DataType element = schemapb::None;
    schemapb::DataType_Parse(field.value("elementType", ""), &element);
    info.element_type = element;
    for (const json& p : field.value("params", json::array())) {
      if (p.value("key", "") == "dim") info.dim = std::atoi(p.value("value", "0").c_str());
    }
    if (field.value("primaryKey", false)) out.primary = name;
    out.by_name[name] = info;
    out.order.push_back(name);
  }
  return out;
}

namespace {

// A binary vector given as base64 text (Go's []byte in JSON) or as byte values; empty
// when it is neither.
std::string BinaryBytes(const json& v) {
  if (v.is_string()) return base::Base64Decode(v.get<std::string>()).value_or("");
  std::string bytes;
  if (!v.is_array()) return bytes;
  for (const json& b : v) {
    if (!b.is_number_integer() || b.get<int64_t>() < 0 || b.get<int64_t>() > 255) return "";
    bytes += char(b.get<int>());
  }
  return bytes;
}

void InitColumn(const FieldInfo& info, schemapb::FieldData* f);

// Appends one value (or, for null, a placeholder with valid_data false) to a column.
void AppendValue(const json& v, const FieldInfo& info, schemapb::FieldData* f) {
  bool null = v.is_null();
  if (null || !f->valid_data().empty()) {
    // valid_data is all or nothing: fill it for the rows before the first null.
    if (f->valid_data().empty()) {
      size_t before = f->has_scalars() || f->has_vectors() ? ReadColumn(*f).count : 0;
      for (size_t i = 0; i < before; ++i) f->add_valid_data(true);
    }
    f->add_valid_data(!null);
  }
  bool vector = info.type == schemapb::FloatVector || info.type == schemapb::BinaryVector;
  schemapb::ScalarField* s = vector ? nullptr : f->mutable_scalars();
  switch (info.type) {
    case schemapb::Bool:
      s->mutable_bool_data()->add_data(!null && v.is_boolean() && v.get<bool>());
      break;
    case schemapb::Int8:
    case schemapb::Int16:
    case schemapb::Int32:
      s->mutable_int_data()->add_data(null ? 0 : int32_t(Int64Of(v).value_or(0)));
      break;
    case schemapb::Int64:
      s->mutable_long_data()->add_data(null ? 0 : Int64Of(v).value_or(0));
      break;
    case schemapb::Float:
      s->mutable_float_data()->add_data(v.is_number() ? v.get<float>() : 0.f);
      break;
    case schemapb::Double:
      s->mutable_double_data()->add_data(v.is_number() ? v.get<double>() : 0.0);
      break;
    case schemapb::String:
    case schemapb::VarChar:
      s->mutable_string_data()->add_data(v.is_string() ? v.get<std::string>() : "");
      break;
    case schemapb::Array: {
      schemapb::ArrayArray* arrays = s->mutable_array_data();
      arrays->set_element_type(info.element_type);
      schemapb::ScalarField* element = arrays->add_data();
      FieldInfo element_info{info.element_type};
      schemapb::FieldData column;  // the array's elements, as a column of their type
      InitColumn(element_info, &column);
      if (v.is_array()) {
        for (const json& x : v) AppendValue(x, element_info, &column);
      }
      *element = column.scalars();
      break;
    }
    case schemapb::JSON:
      // The dialect returns JSON fields as JSON text.
      s->mutable_json_data()->add_data(null ? "" : v.is_string() ? v.get<std::string>() : v.dump());
      break;
    case schemapb::FloatVector: {
      schemapb::VectorField* vec = f->mutable_vectors();
      vec->set_dim(info.dim);
      auto* data = vec->mutable_float_vector()->mutable_data();
      if (v.is_array()) {
        for (const json& x : v) data->Add(x.is_number() ? x.get<float>() : 0.f);
      }
      break;
    }
    case schemapb::BinaryVector: {
      schemapb::VectorField* vec = f->mutable_vectors();
      vec->set_dim(info.dim);
      std::string bytes = BinaryBytes(v);
      if (bytes.size() * 8 != size_t(info.dim)) bytes.assign(size_t(info.dim / 8), '\0');
      vec->mutable_binary_vector()->append(bytes);
      break;
    }
    default:
      Fail(kMilvusUnexpected,
           "cannot return a field of type " + schemapb::DataType_Name(info.type));
  }
}

// Sets a column's kind of data, so that a column without rows still says its type.
void InitColumn(const FieldInfo& info, schemapb::FieldData* f) {
  switch (info.type) {
    case schemapb::Bool:
      f->mutable_scalars()->mutable_bool_data();
      break;
    case schemapb::Int8:
    case schemapb::Int16:
    case schemapb::Int32:
      f->mutable_scalars()->mutable_int_data();
      break;
    case schemapb::Int64:
      f->mutable_scalars()->mutable_long_data();
      break;
    case schemapb::Float:
      f->mutable_scalars()->mutable_float_data();
      break;
    case schemapb::Double:
      f->mutable_scalars()->mutable_double_data();
      break;
    case schemapb::String:
    case schemapb::VarChar:
      f->mutable_scalars()->mutable_string_data();
      break;
    case schemapb::JSON:
      f->mutable_scalars()->mutable_json_data();
      break;
    case schemapb::Array:
      f->mutable_scalars()->mutable_array_data()->set_element_type(info.element_type);
      break;
    case schemapb::FloatVector:
      f->mutable_vectors()->set_dim(info.dim);
      f->mutable_vectors()->mutable_float_vector();
      break;
    case schemapb::BinaryVector:
      f->mutable_vectors()->set_dim(info.dim);
      f->mutable_vectors()->mutable_binary_vector();
      break;
    default:
      break;
  }
}

}  // namespace

void ColumnsFromRows(const json& rows, const CollectionFields& fields,
                     const std::vector<std::string>& names, FieldDataList* columns) {
  std::vector<std::string> typed;
  bool any_dynamic = false;
  for (const std::string& name : names) {
    if (fields.by_name.count(name) || name == "count(*)") {
      typed.push_back(name);
    } else {
      any_dynamic = true;
    }
  }
  for (const std::string& name : typed) {
    FieldInfo info = name == "count(*)" ? FieldInfo{schemapb::Int64} : fields.by_name.at(name);
    schemapb::FieldData* f = columns->Add();
    f->set_field_name(name);
    f->set_type(info.type);
    f->set_field_id(info.id);
    InitColumn(info, f);
    for (const json& row : rows) {
      auto it = row.find(name);
      AppendValue(it == row.end() ? json(nullptr) : *it, info, f);
    }
  }
  if (!any_dynamic || !fields.dynamic) return;
  schemapb::FieldData* meta = columns->Add();
  meta->set_field_name(kMetaField);
  meta->set_type(schemapb::JSON);
  meta->set_is_dynamic(true);
  meta->mutable_scalars()->mutable_json_data();
  for (const json& row : rows) {
    json keys = json::object();
    for (const auto& [key, value] : row.items()) {
      if (!fields.by_name.count(key) && key != "count(*)") keys[key] = value;
    }
    meta->mutable_scalars()->mutable_json_data()->add_data(keys.dump());
  }
}

json SchemaToJson(const schemapb::CollectionSchema& schema) {
  json out = {{"autoID", false}, {"enableDynamicField", schema.enable_dynamic_field()}};
  json fields = json::array();
  for (const schemapb::FieldSchema& f : schema.fields()) {
    if (f.is_dynamic()) continue;  // the dialect adds "$meta" itself
    json field = {{"fieldName", f.name()}, {"dataType", schemapb::DataType_Name(f.data_type())}};
    if (f.is_primary_key()) field["isPrimary"] = true;
    if (f.is_primary_key() && f.autoid()) out["autoID"] = true;
    if (f.nullable()) field["nullable"] = true;
    if (!f.description().empty()) field["description"] = f.description();
    if (f.is_partition_key()) field["isPartitionKey"] = true;
    if (f.is_clustering_key()) field["isClusteringKey"] = true;
    if (f.has_default_value()) field["defaultValue"] = ValueFieldJson(f.default_value());
    if (f.data_type() == schemapb::Array)
      field["elementDataType"] = schemapb::DataType_Name(f.element_type());
    json params = json::object();
    for (const commonpb::KeyValuePair& p : f.type_params()) params[p.key()] = p.value();
    if (!params.empty()) field["elementTypeParams"] = params;
    fields.push_back(field);
  }
  out["fields"] = fields;
  if (schema.functions_size() > 0) out["functions"] = json::array({"BM25 or other functions"});
  return out;
}

void SchemaFromDescribe(const json& described, schemapb::CollectionSchema* schema) {
  schema->set_name(described.value("collectionName", ""));
  schema->set_description(described.value("description", ""));
  schema->set_enable_dynamic_field(described.value("enableDynamicField", false));
  for (const json& field : described.value("fields", json::array())) {
    schemapb::FieldSchema* f = schema->add_fields();
    f->set_name(field.value("name", ""));
    f->set_fieldid(field.value("id", int64_t(0)));
    schemapb::DataType type = schemapb::None;
    schemapb::DataType_Parse(field.value("type", ""), &type);
    f->set_data_type(type);
    f->set_is_primary_key(field.value("primaryKey", false));
    f->set_autoid(field.value("autoId", false));
    f->set_nullable(field.value("nullable", false));
    f->set_description(field.value("description", ""));
    f->set_is_partition_key(field.value("partitionKey", false));
    SetElementAndDefault(field, "elementType", f);
    for (const json& p : field.value("params", json::array())) {
      commonpb::KeyValuePair* kv = f->add_type_params();
      kv->set_key(p.value("key", ""));
      kv->set_value(p.value("value", ""));
    }
  }
}

void SchemaFromJson(const std::string& name, const json& schema_json,
                    schemapb::CollectionSchema* schema) {
  schema->set_name(name);
  bool auto_id = schema_json.value("autoID", schema_json.value("autoId", false));
  schema->set_enable_dynamic_field(schema_json.value("enableDynamicField", false));
  for (const json& field : schema_json.value("fields", json::array())) {
    schemapb::FieldSchema* f = schema->add_fields();
    f->set_name(field.value("fieldName", ""));
    schemapb::DataType type = schemapb::None;
    if (!schemapb::DataType_Parse(field.value("dataType", ""), &type))
      Fail(kMilvusParameterInvalid, "unknown data type " + field.value("dataType", ""));
    f->set_data_type(type);
    f->set_is_primary_key(field.value("isPrimary", false));
    f->set_autoid(f->is_primary_key() && auto_id);
    f->set_nullable(field.value("nullable", false));
    SetElementAndDefault(field, "elementDataType", f);
    const json params = field.value("elementTypeParams", json::object());
    for (const auto& [key, value] : params.items()) {
      commonpb::KeyValuePair* kv = f->add_type_params();
      kv->set_key(key);
      kv->set_value(value.is_string() ? value.get<std::string>() : value.dump());
    }
  }
}

json DescribeJson(const schemapb::CollectionSchema& schema) {
  json fields = json::array();
  bool auto_id = false;
  for (const schemapb::FieldSchema& f : schema.fields()) {
    if (f.is_dynamic()) continue;
    json params = json::array();
    for (const commonpb::KeyValuePair& p : f.type_params())
      params.push_back({{"key", p.key()}, {"value", p.value()}});
    auto_id = auto_id || (f.is_primary_key() && f.autoid());
    json described = {{"name", f.name()},
                      {"id", f.fieldid()},
                      {"type", schemapb::DataType_Name(f.data_type())},
                      {"primaryKey", f.is_primary_key()},
                      {"autoId", f.is_primary_key() && f.autoid()},
                      {"nullable", f.nullable()},
                      {"partitionKey", f.is_partition_key()},
                      {"description", f.description()},
                      {"params", params}};
    if (f.data_type() == schemapb::Array)
      described["elementType"] = schemapb::DataType_Name(f.element_type());
    if (f.has_default_value()) described["defaultValue"] = ValueFieldJson(f.default_value());
    fields.push_back(std::move(described));
  }
  return {{"collectionName", schema.name()},
          {"description", schema.description()},
          {"autoId", auto_id},
          {"enableDynamicField", schema.enable_dynamic_field()},
          {"fields", fields}};
}

std::string PlaceholdersFromVectors(const json& data, bool binary) {
  commonpb::PlaceholderGroup group;
  commonpb::PlaceholderValue* p = group.add_placeholders();
  p->set_tag("$0");
  p->set_type(binary ? commonpb::PlaceholderType::BinaryVector
                     : commonpb::PlaceholderType::FloatVector);
  for (const json& vector : data) {
    std::string bytes;
    if (binary) {
      bytes = BinaryBytes(vector);
    } else if (vector.is_array()) {
      for (const json& x : vector) {
        float value = x.is_number() ? x.get<float>() : 0.f;
        bytes.append(reinterpret_cast<const char*>(&value), sizeof(value));
      }
    }
    p->add_values(std::move(bytes));
  }
  return group.SerializeAsString();
}

std::map<std::string, std::string> KeyValueMap(const KeyValues& pairs) {
  std::map<std::string, std::string> out;
  for (const commonpb::KeyValuePair& p : pairs) out[p.key()] = p.value();
  return out;
}

json ValueJson(const std::string& text) {
  Result<json> parsed = base::ParseJson(text);
  return parsed.ok() ? std::move(parsed).value() : json(text);
}

}  // namespace imgsearch::remote::milvus_proto
