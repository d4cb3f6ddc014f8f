#include "store/schema_json.h"

namespace imgsearch::store {

using json = nlohmann::json;

json SchemaToJson(const CollectionSchema& s) {
  json fields = json::array();
  for (const FieldSchema& f : s.scalar_fields) {
    json field = {{"name", f.name},
                  {"type", DataTypeName(f.type)},
                  {"nullable", f.nullable},
                  {"max_length", f.max_length}};
    // Keys absent in schemas written before they existed:
    if (f.indexed) field["indexed"] = true;
    if (f.type == DataType::kArray) {
      field["element_type"] = DataTypeName(f.element_type);
      field["max_capacity"] = f.max_capacity;
    }
    if (!f.default_value.is_null()) field["default_value"] = f.default_value;
    fields.push_back(std::move(field));
  }
  return {{"name", s.name},
          {"description", s.description},
          {"primary_field", s.primary_field},
          {"auto_id", s.auto_id},
          {"vector_field", s.vector_field},
          {"vector_type", DataTypeName(s.vector_type)},
          {"dimension", s.dimension},
          {"scalar_fields", fields}};
}

Result<CollectionSchema> SchemaFromJson(const json& j) {
  try {
    CollectionSchema s;
    s.name = j.at("name").get<std::string>();
    s.description = j.value("description", "");
    s.primary_field = j.at("primary_field").get<std::string>();
    s.auto_id = j.at("auto_id").get<bool>();
    s.vector_field = j.at("vector_field").get<std::string>();
    IMGSEARCH_ASSIGN_OR_RETURN(s.vector_type,
                               ParseDataType(j.at("vector_type").get<std::string>()));
    s.dimension = j.at("dimension").get<int>();
    for (const json& f : j.at("scalar_fields")) {
      FieldSchema field;
      field.name = f.at("name").get<std::string>();
      IMGSEARCH_ASSIGN_OR_RETURN(field.type, ParseDataType(f.at("type").get<std::string>()));
      field.nullable = f.at("nullable").get<bool>();
      field.max_length = f.at("max_length").get<int>();
      field.indexed = f.value("indexed", false);
      if (field.type == DataType::kArray) {
        IMGSEARCH_ASSIGN_OR_RETURN(field.element_type,
                                   ParseDataType(f.at("element_type").get<std::string>()));
        field.max_capacity = f.at("max_capacity").get<int>();
      }
      if (f.contains("default_value")) field.default_value = f["default_value"];
      s.scalar_fields.push_back(field);
    }
    IMGSEARCH_RETURN_IF_ERROR(ValidateSchema(s));
    return s;
  } catch (const json::exception& e) {
    return Status::Corruption(std::string("stored schema is malformed: ") + e.what());
  }
}

json IndexSpecToJson(const IndexSpec& spec) {
  json j = {
      {"index_type", spec.index_type}, {"metric_type", spec.metric_type}, {"params", spec.params}};
  if (!spec.name.empty()) j["name"] = spec.name;
  return j;
}

Result<IndexSpec> IndexSpecFromJson(const json& j) {
  try {
    IndexSpec spec;
    spec.index_type = j.at("index_type").get<std::string>();
    spec.metric_type = j.at("metric_type").get<std::string>();
    spec.params = j.at("params");
    spec.name = j.value("name", "");
    return spec;
  } catch (const json::exception& e) {
    return Status::Corruption(std::string("stored index spec is malformed: ") + e.what());
  }
}

namespace {

Status FieldError(size_t row, const std::string& field, const std::string& problem) {
  return Status::InvalidArgument("row " + std::to_string(row) + ": field \"" + field + "\" " +
                                 problem);
}

std::string ScalarProblem(DataType type, int max_length, const json& v) {
  switch (type) {
    case DataType::kBool:
      if (!v.is_boolean()) return "must be a boolean, got " + v.dump();
      break;
    case DataType::kInt64:
      if (!v.is_number_integer()) return "must be an integer, got " + v.dump();
      break;
    case DataType::kDouble:
      if (!v.is_number()) return "must be a number, got " + v.dump();
      break;
    case DataType::kVarChar:
      if (!v.is_string()) return "must be a string, got " + v.dump();
      if (v.get_ref<const std::string&>().size() > static_cast<size_t>(max_length))
        return "is longer than its max_length " + std::to_string(max_length);
      break;
    default:
      break;  // JSON: anything
  }
  return "";
}

}  // namespace

std::string ValueProblem(const FieldSchema& f, const json& v) {
  if (v.is_null()) return f.nullable ? "" : "may not be null";
  if (f.type != DataType::kArray) return ScalarProblem(f.type, f.max_length, v);
  if (!v.is_array()) return "must be an array, got " + v.dump();
  if (v.size() > static_cast<size_t>(f.max_capacity))
    return "holds " + std::to_string(v.size()) + " elements, over its max_capacity " +
           std::to_string(f.max_capacity);
  for (const json& element : v) {
    std::string problem = ScalarProblem(f.element_type, f.max_length, element);
    if (!problem.empty()) return "has an element that " + problem;
  }
  return "";
}

Status ValidateRow(const CollectionSchema& schema, size_t row_number, Row* row) {
  if (schema.binary()) {
    if (!row->vector.empty() || row->binary_vector.size() != schema.VectorBytes()) {
      return Status::InvalidArgument("row " + std::to_string(row_number) +
                                     ": binary vector must have " +
                                     std::to_string(schema.VectorBytes()) + " bytes, got " +
                                     std::to_string(row->binary_vector.size()));
    }
  } else {
    if (!row->binary_vector.empty() ||
        row->vector.size() != static_cast<size_t>(schema.dimension)) {
      return Status::InvalidArgument("row " + std::to_string(row_number) + ": vector must have " +
                                     std::to_string(schema.dimension) + " values, got " +
                                     std::to_string(row->vector.size()));
    }
    for (float x : row->vector) {
      if (!std::isfinite(x))
        return Status::InvalidArgument("row " + std::to_string(row_number) +
                                       ": vector has a non-finite value");
    }
  }
  if (!row->fields.is_object())
    return Status::InvalidArgument("row " + std::to_string(row_number) +
                                   ": fields must be an object");
  for (const auto& [key, value] : row->fields.items()) {
    if (schema.FindScalar(key) == nullptr)
      return FieldError(row_number, key, "is not in the schema");
  }
  for (const FieldSchema& f : schema.scalar_fields) {
    auto it = row->fields.find(f.name);
    bool absent = it == row->fields.end() || it->is_null();
    if (absent && !f.default_value.is_null()) {
      row->fields[f.name] = f.default_value;
    } else if (it == row->fields.end()) {
      if (!f.nullable) return FieldError(row_number, f.name, "is missing");
      row->fields[f.name] = nullptr;
    }
    std::string problem = ValueProblem(f, row->fields[f.name]);
    if (!problem.empty()) return FieldError(row_number, f.name, problem);
  }
  return Status::Ok();
}

}  // namespace imgsearch::store
