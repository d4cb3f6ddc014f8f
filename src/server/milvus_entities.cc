// entities/{insert, upsert, delete, get, query, search}; hybrid_search is in
// milvus_hybrid.cc and the writes under VarChar keys in milvus_keys.cc.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "server/milvus_request.h"

namespace imgsearch::server {

using json = nlohmann::json;
using Context = MilvusApi::Context;

namespace {

constexpr int64_t kMaxTopK = 16384;  // Milvus's bound on limit + offset

std::vector<Row> RowsFromBody(const Context& c, const MilvusView& view,
                              const std::string& partition) {
  if (!c.body.contains("data"))
    Fail(kMilvusMissingRequiredParameters, "missing required parameter data");
  const json* data = &c.body.at("data");  // not copied: it may hold every vector
  json one_row;
  if (data->is_object()) data = &(one_row = json::array({*data}));
  if (!data->is_array() || data->empty())
    Fail(kMilvusInvalidInsertData, "data must be a non-empty array of rows");
  const MilvusVectorColumn* vectors = c.VectorColumn(*view.schema, data->size());
  std::vector<Row> rows;
  rows.reserve(data->size());
  bool with_primary = view.varchar_key || !view.schema->auto_id;
  for (size_t i = 0; i < data->size(); ++i)
    rows.push_back(RowFromMilvus(view, (*data)[i], i, with_primary, partition, vectors));
  return rows;
}

// The vectors of further vector fields, taken out of the request's rows.
std::vector<CompanionRows> CompanionVectors(Context& c,
                                            const std::shared_ptr<Collection>& collection) {
  if (!c.body.contains("data")) return {};  // RowsFromBody names the problem
  return TakeCompanionVectors(c, VectorCollections(c, collection), &c.body["data"]);
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

// The rows in Milvus's form, with the vectors of `vectors` (other vector fields) added.
json RowsJson(const Context& c, const MilvusView& view, const std::vector<Row>& rows,
              const DynamicOutput& dynamic,
              const std::vector<std::shared_ptr<Collection>>& vectors) {
  json out = json::array();
  std::vector<int64_t> ids;
  for (const Row& row : rows) {
    out.push_back(RowToMilvus(view, row, c, dynamic));
    ids.push_back(row.id);
  }
  AddVectors(vectors, ids, &out);
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
  c.AcceptOnly({"collectionName", "data", "partitionName"});
  std::shared_ptr<Collection> collection = c.NamedCollection();
  MilvusView view = ViewOf(collection->schema());
  std::vector<CompanionRows> companions = CompanionVectors(c, collection);
  std::vector<Row> rows = RowsFromBody(c, view, WritePartition(c, *collection));
  if (view.varchar_key) {
    json keys = WriteKeyedRows(c, *collection, std::move(rows), false, &companions);
    return {{"insertCount", keys.size()}, {"insertIds", keys}};
  }
  std::vector<int64_t> ids =
      companions.empty() ? WrittenIds(collection->Insert(std::move(rows)))
                         : WriteWithCompanions(c, *collection, std::move(rows), companions, false);
  return {{"insertCount", ids.size()}, {"insertIds", IdsJson(c, ids)}};
}

json MilvusHandlers::Upsert(Context& c, MilvusReply&) {
  c.AcceptOnly({"collectionName", "data", "partitionName"});
  std::shared_ptr<Collection> collection = c.NamedCollection();
  MilvusView view = ViewOf(collection->schema());
  if (collection->schema().auto_id && !view.varchar_key) {
    Fail(kMilvusParameterInvalid,
         "cannot upsert into an autoID collection: its ids are assigned by imgsearch");
  }
  std::vector<CompanionRows> companions = CompanionVectors(c, collection);
  std::vector<Row> rows = RowsFromBody(c, view, WritePartition(c, *collection));
  if (view.varchar_key) {
    json keys = WriteKeyedRows(c, *collection, std::move(rows), true, &companions);
    return {{"upsertCount", keys.size()}, {"upsertIds", keys}};
  }
  // An upsert moves the row into the partition named, as in Milvus.
  std::vector<int64_t> ids =
      companions.empty() ? WrittenIds(collection->Upsert(std::move(rows)))
                         : WriteWithCompanions(c, *collection, std::move(rows), companions, true);
  return {{"upsertCount", ids.size()}, {"upsertIds", IdsJson(c, ids)}};
}

json MilvusHandlers::Delete(Context& c, MilvusReply&) {
  c.AcceptOnly({"collectionName", "filter", "id", "partitionName"});
  std::shared_ptr<Collection> collection = c.NamedCollection();
  MilvusView view = ViewOf(collection->schema());
  std::string filter = c.String("filter");
  if (filter.empty() && c.body.contains("id")) filter = KeyFilter(view, c.body["id"]);
  if (filter.empty()) Fail(kMilvusMissingRequiredParameters, "delete needs a filter (or id)");
  std::string partitions = PartitionFilter(c, *collection, RequestedPartitions(c), false);
  return {{"deleteCount", DeleteRows(c, collection, AndFilters(filter, partitions))}};
}

json MilvusHandlers::Get(Context& c, MilvusReply&) {
  c.AcceptOnly({"collectionName", "id", "outputFields", "partitionName", "partitionNames"});
  std::shared_ptr<Collection> collection = c.LoadedCollection();
  if (!c.body.contains("id")) Fail(kMilvusMissingRequiredParameters, "missing required id");
  MilvusView view = ViewOf(collection->schema());
  DynamicOutput dynamic;
  json requested = c.Given("outputFields") ? *c.Given("outputFields") : json();
  std::vector<std::shared_ptr<Collection>> vectors = TakeVectorOutputs(
      VectorCollections(c, collection), collection->schema().vector_field, &requested);
  std::vector<std::string> fields = StoreOutputFields(view, c, &requested, &dynamic);
  std::string partitions = PartitionFilter(c, *collection, RequestedPartitions(c), true);
  if (!view.varchar_key && partitions.empty()) {
    return RowsJson(c, view, ValueOrFail(collection->Get(IdsFromBody(c), fields)), dynamic,
                    vectors);
  }
  QueryRequest request;
  request.filter = AndFilters(KeyFilter(view, c.body["id"]), partitions);
  request.output_fields = fields;
  return RowsJson(c, view, ValueOrFail(collection->Query(request)), dynamic, vectors);
}

namespace {

// query with outputFields ["count(*)"]: the number of matching rows, as Milvus answers.
json CountRows(const Context& c, const Collection& collection, const std::string& filter) {
  int64_t count = 0;
  if (filter.empty()) {
    count = collection.Count();
  } else {
    QueryRequest request;
    request.filter = filter;
    count = int64_t(ValueOrFail(collection.Query(request)).size());
  }
  return json::array({{{"count(*)", c.Int64Json(count)}}});
}

bool AsksForCount(const json* output_fields) {
  if (output_fields == nullptr || !output_fields->is_array()) return false;
  for (const json& name : *output_fields) {
    if (name == "count(*)") {
      if (output_fields->size() != 1)
        Fail(kMilvusParameterInvalid, "count(*) must be the only output field");
      return true;
    }
  }
  return false;
}

}  // namespace

json MilvusHandlers::Query(Context& c, MilvusReply&) {
  c.AcceptOnly({"collectionName", "filter", "outputFields", "limit", "offset", "partitionNames"});
  std::shared_ptr<Collection> collection = c.LoadedCollection();
  MilvusView view = ViewOf(collection->schema());
  std::string partitions = PartitionFilter(c, *collection, RequestedPartitions(c), true);
  QueryRequest request;
  request.filter = AndFilters(c.String("filter"), partitions);
  if (AsksForCount(c.Given("outputFields"))) return CountRows(c, *collection, request.filter);
  request.limit = c.Int("limit", 0);
  request.offset = c.Int("offset", 0);
  // Milvus's checks and words (proxy's query task).
  if (request.offset < 0 || request.offset > kMaxTopK) {
    Fail(kMilvusParameterInvalid, "Offset should be in range [0, 16384], but got " +
                                      std::to_string(request.offset) + ": invalid parameter");
  }
  if (request.limit < 0 || request.limit > kMaxTopK - request.offset) {
    Fail(kMilvusParameterInvalid, "topk + offset should be in range [1, 16384], but got " +
                                      std::to_string(request.limit + request.offset) +
                                      ": invalid parameter");
  }
  if (c.String("filter").empty() && request.limit == 0)
    Fail(kMilvusParameterInvalid, "a query without a filter needs a limit");
  if (request.limit == 0) request.limit = -1;
  DynamicOutput dynamic;
  json requested = c.Given("outputFields") ? *c.Given("outputFields") : json();
  std::vector<std::shared_ptr<Collection>> vectors = TakeVectorOutputs(
      VectorCollections(c, collection), collection->schema().vector_field, &requested);
  request.output_fields = StoreOutputFields(view, c, &requested, &dynamic);
  return RowsJson(c, view, ValueOrFail(collection->Query(request)), dynamic, vectors);
}

void ReadQueryVectors(const CollectionSchema& schema, const QueryVectors& given,
                      SearchRequest* request) {
  if (given.values.empty())
    Fail(kMilvusIncorrectParameterFormat, "data must be a non-empty array of query vectors");
  const size_t width = schema.binary() ? sizeof(uint8_t) : sizeof(float);
  const size_t dimension =
      schema.binary() ? size_t(schema.dimension) / 8 : size_t(schema.dimension);
  for (size_t i = 0; i < given.values.size(); ++i) {
    const std::string& bytes = given.values[i];
    std::string where = "query vector " + std::to_string(i) + ": ";
    if (given.from_json && schema.binary()) {
      Fail(kMilvusInvalidInsertData, where + "binary vector bytes must be integers 0..255");
    }
    if (given.binary != schema.binary()) {
      Fail(kMilvusParameterInvalid,
           where + (given.binary ? "a binary vector, but" : "a float vector, but") +
               " the vector field \"" + schema.vector_field + "\" holds " +
               (schema.binary() ? "binary" : "float") + " vectors");
    }
    if (bytes.size() % width != 0)
      Fail(kMilvusParameterInvalid, where + "a float query vector must be whole float32 values");
    if (bytes.size() / width != dimension) {
      size_t values = schema.binary() ? bytes.size() * 8 : bytes.size() / width;
      Fail(kMilvusInvalidInsertData, where + "the vector has " + std::to_string(values) +
                                         (schema.binary() ? " bits" : " values") +
                                         " but the collection's dimension is " +
                                         std::to_string(schema.dimension));
    }
    if (schema.binary()) {
      request->binary_vectors.emplace_back(bytes.begin(), bytes.end());
    } else {
      std::vector<float>& vector = request->vectors.emplace_back(dimension);
      std::memcpy(vector.data(), bytes.data(), bytes.size());
      // JSON cannot carry NaN or infinities; bytes can, and no distance is defined for them.
      for (float x : vector) {
        if (!std::isfinite(x))
          Fail(kMilvusInvalidInsertData, where + "vector values must be finite numbers");
      }
    }
  }
}

namespace {

// The hits for a transport that asked for them in binary (MilvusBinary::hits): keys,
// distances and topks in reply.hits, and in the answer each hit's output fields only
// (none built when none were asked for).
json BinaryHits(const Context& c, const MilvusView& view,
                const std::vector<std::vector<Hit>>& results, const DynamicOutput& dynamic,
                bool fields_asked, MilvusReply& reply,
                const std::vector<std::shared_ptr<Collection>>& vectors) {
  MilvusHits& out = reply.hits.emplace();
  out.primary_field = view.primary_field;
  json rows = json::array();
  std::vector<int64_t> ids;
  for (const std::vector<Hit>& list : results) {
    out.topks.push_back(int64_t(list.size()));
    for (const Hit& h : list) {
      out.distances.push_back(h.distance);
      if (view.varchar_key) {
        auto key = h.row.fields.find(view.primary_field);
        bool found = key != h.row.fields.end() && key->is_string();
        out.str_ids.push_back(found ? key->get<std::string>() : std::string());
      } else {
        out.int_ids.push_back(h.id);
      }
      if (!fields_asked) continue;
      Row row = h.row;
      row.id = h.id;
      rows.push_back(RowToMilvus(view, row, c, dynamic));
      ids.push_back(h.id);
    }
  }
  if (fields_asked) AddVectors(vectors, ids, &rows);
  return rows;
}

}  // namespace

json SearchHitsJson(const Context& c, const MilvusView& view,
                    const std::vector<std::vector<Hit>>& results, const DynamicOutput& dynamic,
                    MilvusReply& reply, const std::vector<std::shared_ptr<Collection>>& vectors) {
  if (c.binary.hits) {
    bool fields_asked = !vectors.empty() || dynamic.all || !dynamic.keys.empty();
    for (const std::vector<Hit>& list : results) {
      for (const Hit& h : list)
        fields_asked = fields_asked || h.row.fields.size() > 0 || !h.row.vector.empty() ||
                       !h.row.binary_vector.empty();
    }
    return BinaryHits(c, view, results, dynamic, fields_asked, reply, vectors);
  }
  json hits = json::array();
  json topks = json::array();
  std::vector<int64_t> ids;
  for (const std::vector<Hit>& list : results) {
    topks.push_back(list.size());
    for (const Hit& h : list) {
      ids.push_back(h.id);
      Row row = h.row;
      row.id = h.id;
      json hit = RowToMilvus(view, row, c, dynamic);
      // Milvus names the key "id" in every hit, whatever the field is called.
      hit["id"] = PrimaryKeyJson(view, row, c);
      hit["distance"] = h.distance;
      hits.push_back(hit);
    }
  }
  reply.extra["topks"] = topks;
  AddVectors(vectors, ids, &hits);
  return hits;
}

SearchRequest SearchFromBody(const Context& c, const json& body, size_t query_index,
                             const Collection& collection, const std::string& partitions,
                             const json* output_fields, DynamicOutput* dynamic) {
  const CollectionSchema& schema = collection.schema();
  MilvusView view = ViewOf(schema);
  // The search's parameters are read through a Context: the request's own, or for one of
  // hybrid_search's entries, one made of the entry without its query vectors (which may
  // be large).
  std::optional<Context> entry;
  if (&body != &c.body) {
    json options = json::object();
    for (const auto& [key, value] : body.items()) {
      if (key != "data") options[key] = value;
    }
    entry.emplace(Context{c.api, std::move(options), c.int64_as_string, {}});
  }
  const Context& sub = entry ? *entry : c;
  std::string field = sub.String("annsField", schema.vector_field);
  if (field != schema.vector_field) {
    Fail(kMilvusParameterInvalid,
         "annsField \"" + field + "\" is not the vector field \"" + schema.vector_field + "\"");
  }
  SearchRequest request;
  if (query_index < c.binary.queries.size()) {
    ReadQueryVectors(schema, c.binary.queries[query_index], &request);
  } else {
    if (!body.contains("data")) Fail(kMilvusMissingRequiredParameters, "missing required data");
    ReadQueryVectors(schema, body["data"], &request);
  }
  int64_t limit = sub.Int("limit", 100);
  int64_t offset = sub.Int("offset", 0);
  if (limit < 1 || offset < 0 || limit + offset > kMaxTopK) {
    Fail(kMilvusParameterInvalid,
         "limit must be 1.." + std::to_string(kMaxTopK) +
             " and offset >= 0 with limit + offset <= " + std::to_string(kMaxTopK));
  }
  request.limit = int(limit);
  request.offset = int(offset);
  request.filter = AndFilters(sub.String("filter"), partitions);
  request.output_fields = StoreOutputFields(view, c, output_fields, dynamic);
  request.params = SearchParams(sub, collection);
  return request;
}

json MilvusHandlers::Search(Context& c, MilvusReply& reply) {
  c.AcceptOnly({"collectionName", "data", "annsField", "filter", "limit", "offset", "outputFields",
                "searchParams", "params", "partitionNames"});
  std::shared_ptr<Collection> collection = c.LoadedCollection();
  std::string partitions = PartitionFilter(c, *collection, RequestedPartitions(c), true);
  std::vector<std::shared_ptr<Collection>> all = VectorCollections(c, collection);
  std::shared_ptr<Collection> searched = VectorCollection(all, c.String("annsField"));
  json requested = c.Given("outputFields") ? *c.Given("outputFields") : json();
  std::vector<std::shared_ptr<Collection>> vectors =
      TakeVectorOutputs(all, searched->schema().vector_field, &requested);
  DynamicOutput dynamic;
  SearchRequest request = SearchFromBody(c, c.body, 0, *searched, partitions, &requested, &dynamic);
  return SearchHitsJson(c, ViewOf(searched->schema()), ValueOrFail(searched->Search(request)),
                        dynamic, reply, vectors);
}

}  // namespace imgsearch::server
