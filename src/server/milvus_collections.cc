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
      continue;                                                // read by DynamicFieldWanted
    if (key == "max_length" && IntegerOf(value)) continue;     // a quick form VarChar key's
    if (key == "partitionsNum" && IntegerOf(value)) continue;  // read with the partition key
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
  static const std::set<std::string> known = {
      "fieldName",   "dataType",     "isPrimary",      "elementTypeParams", "nullable",
      "description", "defaultValue", "isPartitionKey", "elementDataType"};
  for (const auto& [key, value] : field.items()) {
    bool harmless = key == "isClusteringKey" && value == false;
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

// What the schema form declares beyond the store schema of the collection itself: the
// partition key, and the vector fields after the first (each the vector field of a
// companion collection, milvus_vectors.cc).
struct SchemaExtras {
  std::string partition_key;
  std::vector<CollectionSchema> vectors;  // name, vector_field, vector_type and dimension set
};

// Adds one field of the schema form to `schema` (or, a further vector field, to `extras`).
void AddField(const json& field, CollectionSchema* schema, bool* has_primary, bool* has_vector,
              SchemaExtras* extras) {
  std::string* partition_key = &extras->partition_key;
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
    CollectionSchema vector;
    vector.vector_field = name;
    vector.vector_type = type;
    vector.dimension = ElementParam(field, "dim", 0);
    if (!*has_vector) {
      schema->vector_field = vector.vector_field;
      schema->vector_type = vector.vector_type;
      schema->dimension = vector.dimension;
      *has_vector = true;
    } else {
      extras->vectors.push_back(vector);
    }
    return;
  }
  FieldSchema scalar;
  scalar.name = name;
  scalar.type = type;
  scalar.nullable = field.value("nullable", false);
  scalar.max_length = ElementParam(field, "max_length", scalar.max_length);
  if (type == DataType::kArray) {
    std::string element = field.value("elementDataType", "");
    if (element.empty())
      Fail(kMilvusParameterInvalid, "Array field \"" + name + "\" needs an elementDataType");
    scalar.element_type = ValueOrFail(ParseDataType(element));
    scalar.max_capacity = ElementParam(field, "max_capacity", 0);
    if (scalar.max_capacity == 0) {
      Fail(kMilvusParameterInvalid,
           "type param(max_capacity) should be specified for array field \"" + name + "\"");
    }
  }
  if (field.contains("defaultValue")) scalar.default_value = field["defaultValue"];
  if (field.value("isPartitionKey", false)) {
    if (!partition_key->empty())
      Fail(kMilvusParameterInvalid, "there are more than one partition key");
    if (type != DataType::kInt64 && type != DataType::kVarChar)
      Fail(kMilvusParameterInvalid,
           "the data type of the partition key should be Int64 or VarChar");
    if (scalar.nullable) Fail(kMilvusParameterInvalid, "the partition key may not be nullable");
    *partition_key = name;
  }
  schema->scalar_fields.push_back(scalar);
}

CollectionSchema SchemaForm(const Context& c, const json& form, SchemaExtras* extras) {
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
  std::set<std::string> names;
  for (const json& field : form.at("fields")) {
    std::string name = field.is_object() ? field.value("fieldName", "") : "";
    if (!name.empty() && !names.insert(name).second)
      Fail(kMilvusParameterInvalid, "duplicated field name \"" + name + "\"");
    AddField(field, &schema, &has_primary, &has_vector, extras);
  }
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

json FieldsJson(const std::vector<std::shared_ptr<Collection>>& vectors,
                const std::string& partition_key) {
  const CollectionSchema& s = vectors.front()->schema();
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
  int64_t id = 101;
  for (const auto& v : vectors) {
    const CollectionSchema& vs = v->schema();
    json vector = FieldJson(vs.vector_field, DataTypeName(vs.vector_type), id++);
    vector["params"].push_back({{"key", "dim"}, {"value", std::to_string(vs.dimension)}});
    fields.push_back(vector);
  }
  for (const FieldSchema& f : s.scalar_fields) {
    if (f.name[0] == '$' || (view.varchar_key && f.name == view.primary_field)) continue;
    json field = FieldJson(f.name, DataTypeName(f.type), id++);
    field["nullable"] = f.nullable;
    field["partitionKey"] = f.name == partition_key;
    if (!f.default_value.is_null()) field["defaultValue"] = f.default_value;
    if (f.type == DataType::kArray) {
      field["elementType"] = DataTypeName(f.element_type);
      field["params"].push_back(
          {{"key", "max_capacity"}, {"value", std::to_string(f.max_capacity)}});
    }
    bool has_length = f.type == DataType::kVarChar ||
                      (f.type == DataType::kArray && f.element_type == DataType::kVarChar);
    if (has_length)
      field["params"].push_back({{"key", "max_length"}, {"value", std::to_string(f.max_length)}});
    fields.push_back(field);
  }
  return fields;
}

// The schema of the companion holding `vector`'s field: the collection's rows (ids given
// by the collection) with that vector.
CollectionSchema CompanionSchema(const CollectionSchema& schema, const CollectionSchema& vector) {
  CollectionSchema companion = schema;
  companion.name = CompanionName(schema.name, vector.vector_field);
  companion.auto_id = false;
  companion.vector_field = vector.vector_field;
  companion.vector_type = vector.vector_type;
  companion.dimension = vector.dimension;
  return companion;
}

// The index of `schema`'s vector field: the indexParams entry naming it, else `fallback`.
IndexSpec IndexOf(const json* params, const CollectionSchema& schema, const IndexSpec& fallback) {
  if (params == nullptr) return fallback;
  for (const json& param : *params) {
    if (param.is_object() && param.value("fieldName", json()) == schema.vector_field)
      return IndexFromMilvus(param, schema);
  }
  return fallback;
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
  if (name[0] == '$')
    Fail(kMilvusParameterInvalid, "collection names starting with $ are reserved");
  CheckCollectionParams(c.Object("params"));
  const json& form = c.Object("schema");
  bool schema_form = form.contains("fields") && !form["fields"].empty();
  SchemaExtras extras;
  CollectionSchema schema = schema_form ? SchemaForm(c, form, &extras) : QuickForm(c);
  const std::string& key_field = extras.partition_key;
  PartitionKey partition_key{key_field};
  if (const json* n = c.Object("params").contains("partitionsNum")
                          ? &c.Object("params")["partitionsNum"]
                          : nullptr) {
    if (key_field.empty()) {
      Fail(kMilvusParameterInvalid,
           "num_partitions should only be specified with partition key field enabled");
    }
    partition_key.partitions = IntegerOf(*n).value_or(0);
    if (partition_key.partitions < 1 || partition_key.partitions > 1024)
      Fail(kMilvusParameterInvalid, "partitionsNum must be between 1 and 1024");
  }
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
  }
  const json* index_params = nullptr;
  std::vector<std::pair<CollectionSchema, IndexSpec>> companions;
  if (schema_form) {
    index.index_type = schema.binary() ? "BIN_FLAT" : "FLAT";
    index_params = c.Given("indexParams");
    if (index_params != nullptr) {
      if (!index_params->is_array() || index_params->size() > 1 + extras.vectors.size()) {
        Fail(kMilvusParameterInvalid,
             "indexParams must be an array with at most one entry per vector field");
      }
      for (const json& param : *index_params) {
        json field = param.is_object() ? param.value("fieldName", json()) : json();
        bool known = field == schema.vector_field;
        for (const CollectionSchema& v : extras.vectors) known = known || field == v.vector_field;
        if (!known) IndexFromMilvus(param, schema);  // names what is wrong with it
      }
    }
    index = IndexOf(index_params, schema, index);
    for (const CollectionSchema& vector : extras.vectors) {
      CollectionSchema companion = CompanionSchema(schema, vector);
      IndexSpec fallback(vector.binary() ? "BIN_FLAT" : "FLAT", DefaultMetric(vector.binary()));
      companions.emplace_back(companion, IndexOf(index_params, companion, fallback));
    }
  }
  std::vector<std::string> companion_fields;
  for (const auto& [companion, spec] : companions)
    companion_fields.push_back(companion.vector_field);
  if (exists) {
    // As Milvus: creating the same collection again is no error; another one is.
    if (SameCollection(c.db(), schema, index) && CompanionFields(c.db(), name) == companion_fields)
      return json::object();
    Fail(kMilvusParameterInvalid, "collection \"" + name + "\" already exists with another schema");
  }
  for (const auto& [companion, spec] : companions) {
    FailIfError(ValidateSchema(companion));
    if (!c.db().HasCollection(companion.name)) continue;
    if (IsCompanion(c.db(), companion.name)) {
      Fail(kMilvusParameterInvalid, "the library holds a collection \"" + companion.name +
                                        "\" already, which vector field \"" +
                                        companion.vector_field + "\" would need");
    }
    FailIfError(c.db().DropCollection(companion.name));  // left by a create cut short
  }
  FailIfError(c.api->db_.CreateCollection(schema, index));
  for (const auto& [companion, spec] : companions) {
    Status created = c.db().CreateCollection(companion, spec);
    if (!created.ok()) {  // leaves nothing half made
      for (const auto& [made, unused] : companions) (void)c.db().DropCollection(made.name);
      (void)c.db().DropCollection(name);
      FailIfError(created);
    }
  }
  // As Milvus: the quick form, or a schema with index parameters, is loaded at once; a
  // bare schema waits for an index and a load.
  bool indexed = !schema_form || (index_params != nullptr && !index_params->empty());
  SetReleased(*c.api, name, !indexed);
  DropCatalogue(c, name);  // no partitions left from an older collection of that name
  if (!key_field.empty()) SetPartitionKey(c, name, partition_key);
  if (!companion_fields.empty()) {
    FailIfError(c.db().Transact(
        [&](Transaction& txn) { return SetCompanionFields(txn, name, companion_fields); }));
  }
  return json::object();
}

json MilvusHandlers::DescribeCollection(Context& c, MilvusReply& reply) {
  c.AcceptOnly({"collectionName"});
  std::shared_ptr<Collection> collection = c.NamedCollection();
  const CollectionSchema& s = collection->schema();
  MilvusView view = ViewOf(s);
  std::optional<PartitionKey> key = PartitionKeyOf(c.db(), s.name);
  std::vector<std::shared_ptr<Collection>> vectors = VectorCollections(c, collection);
  json indexes = json::array();
  for (const auto& v : vectors) {
    if (!HasIndex(*v)) continue;
    indexes.push_back({{"fieldName", v->schema().vector_field},
                       {"indexName", IndexName(*v)},
                       {"metricType", v->index().metric_type}});
  }
  return {{"collectionName", s.name},
          {"description", s.description},
          {"autoId", s.auto_id && !view.varchar_key},
          {"enableDynamicField", view.dynamic},
          {"fields", FieldsJson(vectors, key ? key->field : "")},
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
  json names = json::array();
  for (const std::string& name : c.api->db_.ListCollections()) {
    if (name[0] != '$') names.push_back(name);  // companions stay hidden
  }
  return names;
}

json MilvusHandlers::HasCollection(Context& c, MilvusReply&) {
  c.AcceptOnly({"collectionName"});
  std::string name = c.RequiredString("collectionName");
  return {{"has", name[0] != '$' && c.api->db_.HasCollection(name)}};
}

json MilvusHandlers::DropCollection(Context& c, MilvusReply&) {
  c.AcceptOnly({"collectionName"});
  std::string name = c.RequiredString("collectionName");
  // As Milvus: dropping a collection that does not exist succeeds, and one with aliases
  // is refused (an alias is not a way to drop its collection).
  if (name[0] == '$' || !c.db().HasCollection(name)) {
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
  std::vector<std::string> companions = CompanionFields(c.db(), name);
  FailIfError(c.api->db_.DropCollection(name));
  for (const std::string& field : companions) {
    Status dropped = c.db().DropCollection(CompanionName(name, field));
    if (!dropped.ok() && dropped.code() != StatusCode::kNotFound) FailIfError(dropped);
  }
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
