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
    if (f.indexed) field["indexed"] = true;  // absent in schemas written before it existed
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

Status CheckValue(const FieldSchema& f, size_t row, const json& v) {
  if (v.is_null()) return f.nullable ? Status::Ok() : FieldError(row, f.name, "may not be null");
  switch (f.type) {
    case DataType::kBool:
      if (!v.is_boolean()) return FieldError(row, f.name, "must be a boolean, got " + v.dump());
      break;
    case DataType::kInt64:
      if (!v.is_number_integer())
        return FieldError(row, f.name, "must be an integer, got " + v.dump());
      break;
    case DataType::kDouble:
      if (!v.is_number()) return FieldError(row, f.name, "must be a number, got " + v.dump());
      break;
    case DataType::kVarChar:
      if (!v.is_string()) return FieldError(row, f.name, "must be a string, got " + v.dump());
      if (v.get_ref<const std::string&>().size() > static_cast<size_t>(f.max_length)) {
        return FieldError(row, f.name,
                          "is longer than its max_length " + std::to_string(f.max_length));
      }
      break;
    default:
      break;  // JSON: anything
  }
  return Status::Ok();
}

}  // namespace

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
    if (!row->fields.contains(f.name)) {
      if (!f.nullable) return FieldError(row_number, f.name, "is missing");
      row->fields[f.name] = nullptr;
    }
    IMGSEARCH_RETURN_IF_ERROR(CheckValue(f, row_number, row->fields[f.name]));
  }
  return Status::Ok();
}

}  // namespace imgsearch::store
