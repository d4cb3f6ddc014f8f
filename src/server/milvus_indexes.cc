// indexes/{create, describe, list, drop}. Each vector field has at most one index (a
// further vector field's is its companion collection's, milvus_vectors.cc).
#include "server/milvus_request.h"

namespace imgsearch::server {

using json = nlohmann::json;
using Context = MilvusApi::Context;

namespace {

// Milvus clients often send index parameters as strings ("M": "16").
json NumbersFromStrings(json params) {
  for (auto& [key, value] : params.items()) {
    if (value.is_string()) {
      if (std::optional<int64_t> number = IntegerOf(value)) value = *number;
    }
  }
  return params;
}

std::string StringKey(const json& object, const char* key) {
  if (!object.contains(key) || object[key].is_null()) return "";
  if (!object[key].is_string())
    Fail(kMilvusIncorrectParameterFormat, std::string(key) + " must be a string");
  return object[key].get<std::string>();
}

// The collection (or companion, for a further vector field) holding the named index, or
// code 700.
std::shared_ptr<Collection> CollectionWithIndex(const Context& c, const std::string& index_name) {
  std::shared_ptr<Collection> collection = c.NamedCollection();
  for (const auto& v : VectorCollections(c, collection)) {
    if (HasIndex(*v) && IndexName(*v) == index_name) return v;
  }
  Fail(kMilvusIndexNotFound,
       "index not found[indexName=" + index_name + "] in collection " + collection->schema().name);
}

bool SameIndex(const IndexSpec& existing, const IndexSpec& wanted, const std::string& name) {
  bool same_type = wanted.index_type == "AUTOINDEX" || wanted.index_type == existing.index_type;
  bool same_params = wanted.params.empty() || wanted.params == existing.params;
  return wanted.name == name && wanted.metric_type == existing.metric_type && same_type &&
         same_params;
}

}  // namespace

IndexSpec IndexFromMilvus(const json& param, const CollectionSchema& schema) {
  if (!param.is_object()) Fail(kMilvusIncorrectParameterFormat, "index params must be objects");
  static const std::set<std::string> known = {"fieldName", "indexName", "metricType", "indexType",
                                              "params"};
  for (const auto& [key, value] : param.items()) {
    if (known.count(key) == 0)
      Fail(kMilvusParameterInvalid, "index parameter \"" + key + "\" is not supported");
  }
  std::string field = StringKey(param, "fieldName");
  if (field.empty()) Fail(kMilvusMissingRequiredParameters, "index params need a fieldName");
  if (field != schema.vector_field) {
    Fail(kMilvusParameterInvalid,
         schema.FindScalar(field) != nullptr
             ? "imgsearch indexes only the vector field, not \"" + field + "\""
             : "field \"" + field + "\" is not in the schema");
  }
  json params = param.contains("params") ? param["params"] : json::object();
  if (!params.is_object()) Fail(kMilvusIncorrectParameterFormat, "index params must be an object");
  IndexSpec spec;
  spec.index_type = StringKey(param, "indexType");
  if (spec.index_type.empty()) spec.index_type = StringKey(params, "index_type");
  if (spec.index_type.empty()) spec.index_type = "AUTOINDEX";
  spec.metric_type = StringKey(param, "metricType");
  if (spec.metric_type.empty()) spec.metric_type = StringKey(params, "metric_type");
  if (spec.metric_type.empty()) spec.metric_type = DefaultMetric(schema.binary());
  params.erase("index_type");
  params.erase("metric_type");
  spec.params = NumbersFromStrings(params);
  spec.name = StringKey(param, "indexName");
  if (spec.name.empty()) spec.name = field;
  return spec;
}

json MilvusHandlers::CreateIndex(Context& c, MilvusReply&) {
  c.AcceptOnly({"collectionName", "indexParams"});
  std::shared_ptr<Collection> collection = c.NamedCollection();
  const json& params = c.body.contains("indexParams") ? c.body["indexParams"] : json();
  if (!params.is_array() || params.size() != 1) {
    Fail(kMilvusParameterInvalid,
         "indexParams must hold exactly one entry, for the vector field (imgsearch indexes "
         "no scalar fields)");
  }
  std::string field = params[0].is_object() ? StringKey(params[0], "fieldName") : "";
  std::vector<std::shared_ptr<Collection>> vectors = VectorCollections(c, collection);
  for (const auto& v : vectors) {
    if (v->schema().vector_field == field) collection = v;
  }
  IndexSpec spec = IndexFromMilvus(params[0], collection->schema());
  for (const auto& v : vectors) {
    if (v != collection && HasIndex(*v) && IndexName(*v) == spec.name)
      Fail(kMilvusParameterInvalid, "index name \"" + spec.name + "\" is taken by another field");
  }
  if (HasIndex(*collection)) {
    if (SameIndex(collection->index(), spec, IndexName(*collection))) return json::object();
    Fail(kMilvusParameterInvalid, "at most one distinct index is allowed per field: drop index \"" +
                                      IndexName(*collection) + "\" first");
  }
  FailIfError(collection->CreateIndex(spec));
  return json::object();
}

json MilvusHandlers::DescribeIndex(Context& c, MilvusReply&) {
  c.AcceptOnly({"collectionName", "indexName"});
  std::shared_ptr<Collection> collection = CollectionWithIndex(c, c.RequiredString("indexName"));
  IndexSpec spec = collection->index();
  imgsearch::CollectionStats stats = collection->Stats();
  return json::array({{{"indexName", IndexName(*collection)},
                       {"fieldName", collection->schema().vector_field},
                       {"indexType", spec.index_type},
                       {"metricType", spec.metric_type},
                       {"params", spec.params},
                       {"totalRows", stats.row_count},
                       {"indexedRows", stats.indexed_rows},
                       {"pendingRows", stats.pending_rows},
                       {"indexState", "Finished"},
                       {"failReason", ""}}});
}

json MilvusHandlers::ListIndexes(Context& c, MilvusReply&) {
  c.AcceptOnly({"collectionName"});
  json names = json::array();
  for (const auto& v : VectorCollections(c, c.NamedCollection())) {
    if (HasIndex(*v)) names.push_back(IndexName(*v));
  }
  return names;
}

json MilvusHandlers::DropIndex(Context& c, MilvusReply&) {
  c.AcceptOnly({"collectionName", "indexName"});
  std::shared_ptr<Collection> collection = CollectionWithIndex(c, c.RequiredString("indexName"));
  // As Milvus: an index in use by a loaded collection is not dropped from under it.
  const std::string name = c.NamedCollection()->schema().name;
  if (!IsReleased(*c.api, name)) {
    Fail(kMilvusParameterInvalid,
         "index cannot be dropped on a loaded collection: release \"" + name + "\" first");
  }
  FailIfError(collection->DropIndex());
  return json::object();
}

}  // namespace imgsearch::server
