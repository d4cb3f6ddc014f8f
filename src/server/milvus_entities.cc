// entities/{insert, upsert, delete, get, query, search}
#include "server/milvus_request.h"

namespace imgsearch::server {

using json = nlohmann::json;
using Context = MilvusApi::Context;

namespace {

constexpr int64_t kMaxTopK = 16384;  // Milvus's bound on limit + offset

std::vector<Row> RowsFromBody(const Context& c, const CollectionSchema& schema) {
  if (!c.body.contains("data"))
    Fail(kMilvusMissingRequiredParameters, "missing required parameter data");
  json data = c.body["data"];
  if (data.is_object()) data = json::array({data});
  if (!data.is_array() || data.empty())
    Fail(kMilvusInvalidInsertData, "data must be a non-empty array of rows");
  std::vector<Row> rows;
  rows.reserve(data.size());
  for (size_t i = 0; i < data.size(); ++i)
    rows.push_back(RowFromMilvus(schema, data[i], i, !schema.auto_id));
  return rows;
}

// Row problems found by the store (types, nulls, duplicate ids) are insert-data errors.
std::vector<int64_t> WrittenIds(Result<std::vector<int64_t>>&& ids) {
  if (!ids.ok() && ids.status().code() == StatusCode::kInvalidArgument)
    Fail(kMilvusInvalidInsertData, ids.status().message());
  return ValueOrFail(std::move(ids));
}

json IdsJson(const Context& c, const std::vector<int64_t>& ids) {
  json out = json::array();
  for (int64_t id : ids) out.push_back(c.Int64Json(id));
  return out;
}

// "id": one primary key or an array of them.
std::vector<int64_t> IdsFromBody(const Context& c) {
  json ids = c.body.at("id");
  if (!ids.is_array()) ids = json::array({ids});
  std::vector<int64_t> out;
  for (const json& id : ids) {
    std::optional<int64_t> value = IntegerOf(id);
    if (!value) {
      Fail(kMilvusCheckPrimaryKey, "id must be an Int64 or an array of them, got " + id.dump());
    }
    out.push_back(*value);
  }
  return out;
}

json RowsJson(const Context& c, const CollectionSchema& schema, const std::vector<Row>& rows) {
  json out = json::array();
  for (const Row& row : rows) out.push_back(RowToMilvus(schema, row, c));
  return out;
}

// searchParams: {"metricType", "params": {ef, nprobe, radius, range_filter}}; the older
// top-level "params" holds radius and range_filter.
json SearchParams(const Context& c, const Collection& collection) {
  json params = c.Object("params");
  const json& search = c.Object("searchParams");
  for (const auto& [key, value] : search.items()) {
    if (key == "metricType" || key == "metric_type") {
      if (value != collection.index().metric_type) {
        Fail(kMilvusParameterInvalid, "metric type not match: the collection's index uses " +
                                          collection.index().metric_type + ", the search asks " +
                                          value.dump());
      }
    } else if (key == "params") {
      if (!value.is_object()) Fail(kMilvusIncorrectParameterFormat, "params must be an object");
      params.update(value);
    } else {
      Fail(kMilvusParameterInvalid,
           "search parameter \"" + key + "\" is not supported by imgsearch");
    }
  }
  return params;
}

}  // namespace

json MilvusHandlers::Insert(Context& c, MilvusReply&) {
  c.AcceptOnly({"collectionName", "data"});
  std::shared_ptr<Collection> collection = c.NamedCollection();
  std::vector<int64_t> ids = WrittenIds(collection->Insert(RowsFromBody(c, collection->schema())));
  return {{"insertCount", ids.size()}, {"insertIds", IdsJson(c, ids)}};
}

json MilvusHandlers::Upsert(Context& c, MilvusReply&) {
  c.AcceptOnly({"collectionName", "data"});
  std::shared_ptr<Collection> collection = c.NamedCollection();
  if (collection->schema().auto_id) {
    Fail(kMilvusParameterInvalid,
         "cannot upsert into an autoID collection: its ids are assigned by imgsearch");
  }
  std::vector<int64_t> ids = WrittenIds(collection->Upsert(RowsFromBody(c, collection->schema())));
  return {{"upsertCount", ids.size()}, {"upsertIds", IdsJson(c, ids)}};
}

json MilvusHandlers::Delete(Context& c, MilvusReply&) {
  c.AcceptOnly({"collectionName", "filter", "id"});
  std::shared_ptr<Collection> collection = c.NamedCollection();
  std::string filter = c.String("filter");
  int64_t deleted = 0;
  if (!filter.empty()) {
    deleted = ValueOrFail(collection->DeleteWhere(filter));
  } else if (c.body.contains("id")) {
    deleted = ValueOrFail(collection->Delete(IdsFromBody(c)));
  } else {
    Fail(kMilvusMissingRequiredParameters, "delete needs a filter (or id)");
  }
  return {{"deleteCount", deleted}};
}

json MilvusHandlers::Get(Context& c, MilvusReply&) {
  c.AcceptOnly({"collectionName", "id", "outputFields"});
  std::shared_ptr<Collection> collection = c.LoadedCollection();
  if (!c.body.contains("id")) Fail(kMilvusMissingRequiredParameters, "missing required id");
  const CollectionSchema& schema = collection->schema();
  return RowsJson(c, schema, ValueOrFail(collection->Get(IdsFromBody(c), OutputFields(schema, c))));
}

json MilvusHandlers::Query(Context& c, MilvusReply&) {
  c.AcceptOnly({"collectionName", "filter", "outputFields", "limit", "offset"});
  std::shared_ptr<Collection> collection = c.LoadedCollection();
  QueryRequest request;
  request.filter = c.String("filter");
  request.limit = c.Int("limit", 0);
  request.offset = c.Int("offset", 0);
  if (request.limit < 0 || request.offset < 0)
    Fail(kMilvusParameterInvalid, "limit and offset must not be negative");
  if (request.filter.empty() && request.limit == 0)
    Fail(kMilvusParameterInvalid, "a query without a filter needs a limit");
  if (request.limit == 0) request.limit = -1;
  request.output_fields = OutputFields(collection->schema(), c);
  return RowsJson(c, collection->schema(), ValueOrFail(collection->Query(request)));
}

json MilvusHandlers::Search(Context& c, MilvusReply& reply) {
  c.AcceptOnly({"collectionName", "data", "annsField", "filter", "limit", "offset", "outputFields",
                "searchParams", "params"});
  std::shared_ptr<Collection> collection = c.LoadedCollection();
  const CollectionSchema& schema = collection->schema();
  std::string field = c.String("annsField", schema.vector_field);
  if (field != schema.vector_field) {
    Fail(kMilvusParameterInvalid,
         "annsField \"" + field + "\" is not the vector field \"" + schema.vector_field + "\"");
  }
  SearchRequest request;
  if (!c.body.contains("data")) Fail(kMilvusMissingRequiredParameters, "missing required data");
  ReadQueryVectors(schema, c.body["data"], &request);
  int64_t limit = c.Int("limit", 100);
  int64_t offset = c.Int("offset", 0);
  if (limit < 1 || offset < 0 || limit + offset > kMaxTopK) {
    Fail(kMilvusParameterInvalid,
         "limit must be 1.." + std::to_string(kMaxTopK) +
             " and offset >= 0 with limit + offset <= " + std::to_string(kMaxTopK));
  }
  request.limit = int(limit);
  request.offset = int(offset);
  request.filter = c.String("filter");
  request.output_fields = OutputFields(schema, c);
  request.params = SearchParams(c, *collection);
  std::vector<std::vector<Hit>> results = ValueOrFail(collection->Search(request));
  json hits = json::array();
  json topks = json::array();
  for (const std::vector<Hit>& list : results) {
    topks.push_back(list.size());
    for (const Hit& h : list) {
      Row row = h.row;
      row.id = h.id;
      json hit = RowToMilvus(schema, row, c);
      hit["distance"] = h.distance;
      hits.push_back(hit);
    }
  }
  reply.extra["topks"] = topks;
  return hits;
}

}  // namespace imgsearch::server
