// collections/{create, describe, list, has, drop, get_stats, load, release, get_load_state}
#include "server/milvus_request.h"

namespace imgsearch::server {

using json = nlohmann::json;
using Context = MilvusApi::Context;

namespace {

// Collection-level "params" that imgsearch can honour; the rest are named in an error.
void CheckCollectionParams(const json& params) {
  for (const auto& [key, value] : params.items()) {
    if (key == "consistencyLevel") continue;  // every level is met (reads see all writes)
    if (key == "shardsNum" && (value == 1 || value == "1")) continue;
    if (key == "enableDynamicField" && value == false) continue;
    Fail(kMilvusParameterInvalid, "collection parameter \"" + key + "\" = " + value.dump() +
                                      " is not supported by imgsearch");
  }
}

int ElementParam(const json& field, const char* key, int fallback) {
  const json& params = field.contains("elementTypeParams") ? field["elementTypeParams"] : json();
  if (!params.is_object() || !params.contains(key)) return fallback;
  std::optional<int64_t> v = IntegerOf(params[key]);
  if (v && *v >= 0 && *v <= (1 << 30)) return int(*v);
  Fail(kMilvusIncorrectParameterFormat, std::string(key) + " must be an integer");
}

void CheckFieldKeys(const json& field, const std::string& name) {
  static const std::set<std::string> known = {"fieldName",         "dataType", "isPrimary",
                                              "elementTypeParams", "nullable", "description"};
  for (const auto& [key, value] : field.items()) {
    bool harmless = (key == "isPartitionKey" || key == "isClusteringKey") && value == false;
    harmless = harmless || (key == "defaultValue" && value.is_null());
    if (known.count(key) == 0 && !harmless) {
      Fail(kMilvusParameterInvalid, "field \"" + name + "\": \"" + key + "\" = " + value.dump() +
                                        " is not supported by imgsearch");
    }
  }
}

// Adds one field of the schema form to `schema`.
void AddField(const json& field, CollectionSchema* schema, bool* has_primary, bool* has_vector) {
  if (!field.is_object()) Fail(kMilvusIncorrectParameterFormat, "each field must be an object");
  std::string name = field.value("fieldName", "");
  if (name.empty()) Fail(kMilvusMissingRequiredParameters, "every field needs a fieldName");
  CheckFieldKeys(field, name);
  std::string type_name = field.value("dataType", "");
  if (field.value("isPrimary", false)) {
    if (type_name != "Int64") {
      Fail(kMilvusParameterInvalid, "primary key \"" + name + "\" is " + type_name +
                                        ": imgsearch supports Int64 primary keys only");
    }
    if (*has_primary) Fail(kMilvusParameterInvalid, "the schema has two primary keys");
    schema->primary_field = name;
    *has_primary = true;
    return;
  }
  static const std::set<std::string> narrow_ints = {"Int8", "Int16", "Int32"};
  if (narrow_ints.count(type_name)) {
    Fail(kMilvusParameterInvalid, "field \"" + name + "\" is " + type_name +
                                      ": imgsearch stores integers as Int64; declare it Int64");
  }
  DataType type = ValueOrFail(ParseDataType(type_name));
  if (type == DataType::kFloatVector || type == DataType::kBinaryVector) {
    if (*has_vector) {
      Fail(kMilvusParameterInvalid,
           "imgsearch collections have one vector field; \"" + name + "\" would be a second");
    }
    schema->vector_field = name;
    schema->vector_type = type;
    schema->dimension = ElementParam(field, "dim", 0);
    *has_vector = true;
    return;
  }
  FieldSchema scalar;
  scalar.name = name;
  scalar.type = type;
  scalar.nullable = field.value("nullable", false);
  scalar.max_length = ElementParam(field, "max_length", scalar.max_length);
  schema->scalar_fields.push_back(scalar);
}

CollectionSchema SchemaForm(const Context& c, const json& form) {
  for (const auto& [key, value] : form.items()) {
    if (key == "fields" || key == "autoID" || key == "autoId") continue;
    if (key == "enableDynamicField" && value == false) continue;
    if (key == "functions" && (value.is_null() || value.empty())) continue;
    Fail(kMilvusParameterInvalid,
         "schema \"" + key + "\" = " + value.dump() + " is not supported by imgsearch" +
             (key == "enableDynamicField" ? " (imgsearch has no dynamic fields)" : ""));
  }
  CollectionSchema schema;
  schema.name = c.RequiredString("collectionName");
  schema.description = c.String("description");
  schema.auto_id = form.value("autoID", form.value("autoId", false));
  bool has_primary = false, has_vector = false;
  for (const json& field : form.at("fields")) AddField(field, &schema, &has_primary, &has_vector);
  if (!has_primary) Fail(kMilvusParameterInvalid, "the schema needs an Int64 primary key field");
  if (!has_vector) Fail(kMilvusParameterInvalid, "the schema needs a vector field");
  return schema;
}

CollectionSchema QuickForm(const Context& c) {
  CollectionSchema schema;
  schema.name = c.RequiredString("collectionName");
  schema.description = c.String("description");
  if (!c.body.contains("dimension"))
    Fail(kMilvusMissingRequiredParameters, "give a dimension (quick form) or a schema");
  schema.dimension = int(c.Int("dimension", 0));
  std::string id_type = c.String("idType", "Int64");
  if (id_type != "Int64")
    Fail(kMilvusParameterInvalid, "idType " + id_type + ": imgsearch supports Int64 ids only");
  schema.auto_id = c.Bool("autoID", false);
  schema.primary_field = c.String("primaryFieldName", "id");
  schema.vector_field = c.String("vectorFieldName", "vector");
  return schema;
}

json FieldJson(const std::string& name, const std::string& type, int64_t id) {
  return {{"name", name},          {"id", id},
          {"type", type},          {"description", ""},
          {"primaryKey", false},   {"autoId", false},
          {"partitionKey", false}, {"clusteringKey", false},
          {"nullable", false},     {"params", json::array()}};
}

json FieldsJson(const CollectionSchema& s) {
  json fields = json::array();
  json primary = FieldJson(s.primary_field, "Int64", 100);
  primary["primaryKey"] = true;
  primary["autoId"] = s.auto_id;
  fields.push_back(primary);
  json vector = FieldJson(s.vector_field, DataTypeName(s.vector_type), 101);
  vector["params"].push_back({{"key", "dim"}, {"value", std::to_string(s.dimension)}});
  fields.push_back(vector);
  int64_t id = 102;
  for (const FieldSchema& f : s.scalar_fields) {
    json field = FieldJson(f.name, DataTypeName(f.type), id++);
    field["nullable"] = f.nullable;
    if (f.type == DataType::kVarChar)
      field["params"].push_back({{"key", "max_length"}, {"value", std::to_string(f.max_length)}});
    fields.push_back(field);
  }
  return fields;
}

}  // namespace

std::string DefaultMetric(bool binary) {
  return binary ? "HAMMING" : "COSINE";  // Milvus's defaults since 2.4
}

json MilvusHandlers::CreateCollection(Context& c, MilvusReply&) {
  c.AcceptOnly({"collectionName", "dimension", "metricType", "idType", "autoID", "primaryFieldName",
                "vectorFieldName", "schema", "indexParams", "params", "description"});
  std::string name = c.RequiredString("collectionName");
  CheckCollectionParams(c.Object("params"));
  const json& form = c.Object("schema");
  bool schema_form = form.contains("fields") && !form["fields"].empty();
  CollectionSchema schema = schema_form ? SchemaForm(c, form) : QuickForm(c);
  if (c.api->db_.HasCollection(name))
    Fail(kMilvusParameterInvalid, "collection \"" + name + "\" already exists");

  IndexSpec index;
  index.metric_type = c.String("metricType", DefaultMetric(schema.binary()));
  if (!schema_form) {  // the quick form is indexed and loaded at once, as in Milvus
    index.index_type = "AUTOINDEX";
    index.name = schema.vector_field;
  } else {
    index.index_type = schema.binary() ? "BIN_FLAT" : "FLAT";
    if (c.body.contains("indexParams")) {
      const json& params = c.body["indexParams"];
      if (!params.is_array() || params.size() > 1) {
        Fail(kMilvusParameterInvalid,
             "indexParams must be an array with at most one entry (the vector field's)");
      }
      if (!params.empty()) index = IndexFromMilvus(params[0], schema);
    }
  }
  FailIfError(c.api->db_.CreateCollection(schema, index));
  SetReleased(*c.api, name, false);
  return json::object();
}

json MilvusHandlers::DescribeCollection(Context& c, MilvusReply&) {
  c.AcceptOnly({"collectionName"});
  std::shared_ptr<Collection> collection = c.NamedCollection();
  const CollectionSchema& s = collection->schema();
  json indexes = json::array();
  if (HasIndex(*collection)) {
    indexes.push_back({{"fieldName", s.vector_field},
                       {"indexName", IndexName(*collection)},
                       {"metricType", collection->index().metric_type}});
  }
  return {{"collectionName", s.name},
          {"description", s.description},
          {"autoId", s.auto_id},
          {"enableDynamicField", false},
          {"fields", FieldsJson(s)},
          {"indexes", indexes},
          {"load", IsReleased(*c.api, s.name) ? "LoadStateNotLoad" : "LoadStateLoaded"},
          {"shardsNum", 1},
          {"partitionsNum", 1},
          {"consistencyLevel", "Strong"},
          {"aliases", json::array()},
          {"properties", json::array()}};
}

json MilvusHandlers::ListCollections(Context& c, MilvusReply&) {
  c.AcceptOnly({});
  return c.api->db_.ListCollections();
}

json MilvusHandlers::HasCollection(Context& c, MilvusReply&) {
  c.AcceptOnly({"collectionName"});
  return {{"has", c.api->db_.HasCollection(c.RequiredString("collectionName"))}};
}

json MilvusHandlers::DropCollection(Context& c, MilvusReply&) {
  c.AcceptOnly({"collectionName"});
  std::string name = c.NamedCollection()->schema().name;
  FailIfError(c.api->db_.DropCollection(name));
  SetReleased(*c.api, name, false);
  return json::object();
}

json MilvusHandlers::CollectionStats(Context& c, MilvusReply&) {
  c.AcceptOnly({"collectionName"});
  return {{"rowCount", c.NamedCollection()->Count()}};
}

json MilvusHandlers::LoadCollection(Context& c, MilvusReply&) {
  c.AcceptOnly({"collectionName"});
  SetReleased(*c.api, c.NamedCollection()->schema().name, false);
  return json::object();
}

json MilvusHandlers::ReleaseCollection(Context& c, MilvusReply&) {
  c.AcceptOnly({"collectionName"});
  SetReleased(*c.api, c.NamedCollection()->schema().name, true);
  return json::object();
}

json MilvusHandlers::LoadState(Context& c, MilvusReply&) {
  c.AcceptOnly({"collectionName"});
  if (IsReleased(*c.api, c.NamedCollection()->schema().name))
    return {{"loadState", "LoadStateNotLoad"}};
  return {{"loadState", "LoadStateLoaded"}, {"loadProgress", 100}};
}

}  // namespace imgsearch::server
