// collections/{create, describe, list, has, drop, get_stats, load, release, get_load_state}
// (rename is in milvus_aliases.cc). Collections made here carry the hidden fields of the
// dialect: "$partition" always, "$meta" with dynamic fields, "$id" under a VarChar key.
#include "server/milvus_request.h"
#include "store/schema_json.h"

namespace imgsearch::server {

using json = nlohmann::json;
using Context = MilvusApi::Context;

namespace {

// Collection-level "params" that imgsearch can honour; the rest are named in an error.
void CheckCollectionParams(const json& params) {
  for (const auto& [key, value] : params.items()) {
    if (key == "consistencyLevel") continue;  // every level is met (reads see all writes)
    if (key == "shardsNum" && (value == 1 || value == "1")) continue;
    if (key == "enableDynamicField" && (value.is_boolean() || value == "true" || value == "false"))
      continue;                                             // read by DynamicFieldWanted
    if (key == "max_length" && IntegerOf(value)) continue;  // a quick form VarChar key's
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

// A VarChar primary key: the store's id becomes the hidden "$id" (assigned by the store)
// and the key the first scalar field, indexed (see milvus_keys.cc).
void AddVarCharKey(CollectionSchema* schema, const std::string& name, int max_length) {
  FieldSchema key;
  key.name = name;
  key.type = DataType::kVarChar;
  key.max_length = max_length;
  key.indexed = true;
  schema->primary_field = kHiddenIdField;
  schema->scalar_fields.insert(schema->scalar_fields.begin(), key);
}

// Adds one field of the schema form to `schema`.
void AddField(const json& field, CollectionSchema* schema, bool* has_primary, bool* has_vector) {
  if (!field.is_object()) Fail(kMilvusIncorrectParameterFormat, "each field must be an object");
  std::string name = field.value("fieldName", "");
  if (name.empty()) Fail(kMilvusMissingRequiredParameters, "every field needs a fieldName");
  CheckFieldKeys(field, name);
  if (name[0] == '$') Fail(kMilvusParameterInvalid, "field names starting with $ are reserved");
  std::string type_name = field.value("dataType", "");
  if (field.value("isPrimary", false)) {
    if (type_name != "Int64" && type_name != "VarChar") {
      Fail(kMilvusParameterInvalid,
           "primary key \"" + name + "\" is " + type_name + ": a primary key is Int64 or VarChar");
    }
    if (*has_primary) Fail(kMilvusParameterInvalid, "the schema has two primary keys");
    *has_primary = true;
    if (type_name == "VarChar") {
      AddVarCharKey(schema, name, ElementParam(field, "max_length", 65535));
    } else {
      schema->primary_field = name;
    }
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
    if (key == "enableDynamicField" && value.is_boolean()) continue;
    if (key == "functions" && (value.is_null() || value.empty())) continue;
    Fail(kMilvusParameterInvalid,
         "schema \"" + key + "\" = " + value.dump() + " is not supported by imgsearch");
  }
  CollectionSchema schema;
  schema.name = c.RequiredString("collectionName");
  schema.description = c.String("description");
  schema.auto_id = form.value("autoID", form.value("autoId", false));
  bool has_primary = false, has_vector = false;
  for (const json& field : form.at("fields")) AddField(field, &schema, &has_primary, &has_vector);
  if (!has_primary) Fail(kMilvusParameterInvalid, "the schema needs a primary key field");
  if (!has_vector) Fail(kMilvusParameterInvalid, "the schema needs a vector field");
  if (schema.primary_field == kHiddenIdField) {
    if (schema.auto_id) Fail(kMilvusParameterInvalid, "autoID needs an Int64 primary key");
    schema.auto_id = true;  // the hidden id; the VarChar key comes with every row
  }
  return schema;
}

// Milvus's defaults: the quick form has dynamic fields, the schema form not unless
// schema.enableDynamicField; params.enableDynamicField overrides either.
bool DynamicFieldWanted(const Context& c, const json& form, bool schema_form) {
  bool wanted = schema_form ? form.value("enableDynamicField", false) : true;
  const json& params = c.Object("params");
  if (params.contains("enableDynamicField")) {
    const json& v = params["enableDynamicField"];
    wanted = v == true || v == "true";
  }
  return wanted;
}

// The hidden fields every collection of the dialect carries.
void AddHiddenFields(CollectionSchema* schema, bool dynamic) {
  if (dynamic) {
    FieldSchema meta;
    meta.name = CollectionSchema::kDynamicFieldName;
    meta.type = DataType::kJson;
    meta.nullable = true;
    schema->scalar_fields.push_back(meta);
  }
  FieldSchema partition;
  partition.name = kPartitionField;
  partition.type = DataType::kVarChar;
  partition.max_length = 255;
  partition.nullable = true;
  partition.indexed = true;
  schema->scalar_fields.push_back(partition);
}

CollectionSchema QuickForm(const Context& c) {
  CollectionSchema schema;
  schema.name = c.RequiredString("collectionName");
  schema.description = c.String("description");
  if (!c.body.contains("dimension"))
    Fail(kMilvusMissingRequiredParameters, "give a dimension (quick form) or a schema");
  schema.dimension = int(c.Int("dimension", 0));
  std::string id_type = c.String("idType", "Int64");
  if (id_type != "Int64" && id_type != "VarChar")
    Fail(kMilvusParameterInvalid, "idType " + id_type + ": use Int64 or VarChar");
  schema.auto_id = c.Bool("autoID", false);
  std::string primary = c.String("primaryFieldName", "id");
  if (primary.empty() || primary[0] == '$')
    Fail(kMilvusParameterInvalid, "invalid primaryFieldName \"" + primary + "\"");
  schema.primary_field = primary;
  schema.vector_field = c.String("vectorFieldName", "vector");
  if (id_type == "VarChar") {
    if (schema.auto_id) Fail(kMilvusParameterInvalid, "autoID needs an Int64 primary key");
    const json& params = c.Object("params");
    int max_length = params.contains("max_length") ? int(*IntegerOf(params["max_length"])) : 65535;
    AddVarCharKey(&schema, primary, max_length);
    schema.auto_id = true;
  }
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
  MilvusView view = ViewOf(s);
  json fields = json::array();
  json primary = FieldJson(view.primary_field, view.varchar_key ? "VarChar" : "Int64", 100);
  primary["primaryKey"] = true;
  primary["autoId"] = s.auto_id && !view.varchar_key;
  if (view.varchar_key) {
    primary["params"].push_back(
        {{"key", "max_length"}, {"value", std::to_string(view.key_max_length)}});
  }
  fields.push_back(primary);
  json vector = FieldJson(s.vector_field, DataTypeName(s.vector_type), 101);
  vector["params"].push_back({{"key", "dim"}, {"value", std::to_string(s.dimension)}});
  fields.push_back(vector);
  int64_t id = 102;
  for (const FieldSchema& f : s.scalar_fields) {
    if (f.name[0] == '$' || (view.varchar_key && f.name == view.primary_field)) continue;
    json field = FieldJson(f.name, DataTypeName(f.type), id++);
    field["nullable"] = f.nullable;
    if (f.type == DataType::kVarChar)
      field["params"].push_back({{"key", "max_length"}, {"value", std::to_string(f.max_length)}});
    fields.push_back(field);
  }
  return fields;
}

// Whether the collection called schema.name has this schema and index.
bool SameCollection(Database& db, const CollectionSchema& schema, const IndexSpec& index) {
  auto existing = db.GetCollection(schema.name);
  if (!existing.ok()) return false;
  CollectionSchema theirs = (*existing)->schema();
  theirs.description = schema.description;  // Milvus compares fields, not descriptions
  return store::SchemaToJson(theirs) == store::SchemaToJson(schema) &&
         (*existing)->index().metric_type == index.metric_type;
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
  AddHiddenFields(&schema, DynamicFieldWanted(c, form, schema_form));
  const bool exists = c.api->db_.HasCollection(name);
  if (AliasTarget(c.db(), name)) {
    Fail(kMilvusAliasCollectionNameConflict,
         "alias and collection name conflict: \"" + name + "\" is an alias");
  }

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
  if (exists) {
    // As Milvus: creating the same collection again is no error; another one is.
    if (SameCollection(c.db(), schema, index)) return json::object();
    Fail(kMilvusParameterInvalid, "collection \"" + name + "\" already exists with another schema");
  }
  FailIfError(c.api->db_.CreateCollection(schema, index));
  SetReleased(*c.api, name, false);
  DropCatalogue(c, name);  // no partitions left from an older collection of that name
  return json::object();
}

json MilvusHandlers::DescribeCollection(Context& c, MilvusReply& reply) {
  c.AcceptOnly({"collectionName"});
  std::shared_ptr<Collection> collection = c.NamedCollection();
  const CollectionSchema& s = collection->schema();
  MilvusView view = ViewOf(s);
  json indexes = json::array();
  if (HasIndex(*collection)) {
    indexes.push_back({{"fieldName", s.vector_field},
                       {"indexName", IndexName(*collection)},
                       {"metricType", collection->index().metric_type}});
  }
  return {{"collectionName", s.name},
          {"description", s.description},
          {"autoId", s.auto_id && !view.varchar_key},
          {"enableDynamicField", view.dynamic},
          {"fields", FieldsJson(s)},
          {"indexes", indexes},
          {"load", IsReleased(*c.api, s.name) ? "LoadStateNotLoad" : "LoadStateLoaded"},
          {"shardsNum", 1},
          {"partitionsNum", ListPartitions(c, reply).size()},
          {"consistencyLevel", "Strong"},
          {"aliases", AliasesOf(c.db(), s.name)},
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
  std::string name = c.RequiredString("collectionName");
  // As Milvus: dropping a collection that does not exist succeeds, and one with aliases
  // is refused (an alias is not a way to drop its collection).
  if (!c.db().HasCollection(name)) {
    if (AliasTarget(c.db(), name))
      Fail(kMilvusParameterInvalid, "cannot drop the collection via alias = " + name);
    return json::object();
  }
  std::vector<std::string> aliases = AliasesOf(c.db(), name);
  if (!aliases.empty()) {
    Fail(kMilvusParameterInvalid,
         "unable to drop the collection [" + name + "] because it has associated aliases " +
             json(aliases).dump() + ", please remove all aliases before dropping the collection");
  }
  FailIfError(c.api->db_.DropCollection(name));
  SetReleased(*c.api, name, false);
  DropCatalogue(c, name);
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
  c.AcceptOnly({"collectionName", "partitionNames"});
  std::shared_ptr<Collection> collection = c.NamedCollection();
  const std::string& name = collection->schema().name;
  bool loaded = !IsReleased(*c.api, name);
  std::set<std::string> released = ReleasedPartitions(*c.api, name);
  std::vector<std::string> partitions = RequestedPartitions(c);
  for (const std::string& p : partitions) {
    PartitionFilter(c, *collection, {p}, false);  // code 200 for an unknown partition
    loaded = loaded && !released.count(p);
  }
  if (!loaded) return {{"loadState", "LoadStateNotLoad"}};
  return {{"loadState", "LoadStateLoaded"}, {"loadProgress", 100}};
}

}  // namespace imgsearch::server
