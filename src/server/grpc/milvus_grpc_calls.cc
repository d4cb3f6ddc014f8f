// Each MilvusService RPC that imgsearch serves: its request message into the dialect's
// request object, the route called, and the answer into the response message.
#include <algorithm>
#include <atomic>
#include <chrono>

#include "base/base64.h"
#include "imgsearch/version.h"
#include "milvus.pb.h"
#include "remote/milvus_proto_convert.h"
#include "server/grpc/milvus_grpc.h"
#include "server/milvus_request.h"

namespace imgsearch::server {

namespace {

using json = nlohmann::json;
namespace milvus_proto = remote::milvus_proto;
namespace milvuspb = milvus::proto::milvus;
namespace commonpb = milvus::proto::common;
namespace schemapb = milvus::proto::schema;
using milvus_proto::CollectionFields;
using milvus_proto::KeyValueMap;
using milvus_proto::ValueJson;

// --- calling the dialect ----------------------------------------------------------------

// Calls a route of the dialect; a failure throws MilvusFailure with its code and message.
MilvusReply Route(MilvusApi& api, const std::string& route, json body, MilvusBinary binary = {}) {
  MilvusReply reply =
      api.CallObject(route, std::move(body), /*int64_as_string=*/false, std::move(binary));
  if (reply.code != kMilvusOk) Fail(reply.code, reply.message);
  return reply;
}

json Data(MilvusApi& api, const std::string& route, json body) {
  return Route(api, route, std::move(body)).data;
}

// The request object every collection-level call starts from.
json Body(const std::string& db_name, const std::string& collection) {
  json body = {{"collectionName", collection}};
  if (!db_name.empty()) body["dbName"] = db_name;
  return body;
}

template <typename Strings>
json Names(const Strings& names) {
  json out = json::array();
  for (const std::string& n : names) out.push_back(n);
  return out;
}

// Milvus identifies collections, partitions and indexes by number too; imgsearch by
// name, so the number is a stable hash of it (FNV-1a, positive).
int64_t IdOf(const std::string& name) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ull;
  return int64_t(h >> 1);
}

// A hybrid timestamp as Milvus's (milliseconds since the epoch above 18 logical bits);
// clients keep it for session consistency, which every read here meets anyway.
uint64_t Timestamp() {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  return uint64_t(ms) << 18;
}

void SetStatus(commonpb::Status* status, int code, const std::string& message) {
  status->set_code(code);
  status->set_reason(message);
  // Clients older than Milvus 2.3.2 read only the deprecated error_code.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  status->set_error_code(code == kMilvusCollectionNotFound ? commonpb::CollectionNotExists
                                                           : commonpb::UnexpectedError);
#pragma GCC diagnostic pop
  status->set_retriable(false);
}

commonpb::Status* StatusOf(commonpb::Status* status) {
  return status;
}
template <typename Response>
commonpb::Status* StatusOf(Response* response) {
  return response->mutable_status();
}

template <typename Request, typename Response>
GrpcAnswer Run(MilvusApi& api, std::string_view bytes,
               void (*handler)(MilvusApi&, const Request&, Response*)) {
  // Not on a protobuf Arena: on one, ThreadSanitizer aborted in the arena's cleanup of
  // SearchRequest's map field (libprotobuf 3.21, a bad free); kept off until understood.
  Request request;
  if (!request.ParseFromArray(bytes.data(), int(bytes.size()))) {
    return {GrpcCode::kInvalidArgument,
            "the request is not a valid " + Request::descriptor()->full_name() + " message", ""};
  }
  Response response;
  // A success carries its status too, as Milvus's does (code 0): the Node SDK's gRPC
  // client reads status.error_code of every reply and fails on a reply without one.
  StatusOf(&response);
  try {
    handler(api, request, &response);
  } catch (const MilvusFailure& failure) {
    response.Clear();
    SetStatus(StatusOf(&response), failure.code, failure.message);
  } catch (const json::exception& e) {
    response.Clear();
    SetStatus(StatusOf(&response), kMilvusIncorrectParameterFormat,
              std::string("malformed request: ") + e.what());
  } catch (const std::exception& e) {
    response.Clear();
    SetStatus(StatusOf(&response), kMilvusUnexpected, e.what());
  }
  return {GrpcCode::kOk, "", response.SerializeAsString()};
}

void RefuseTemplates(const google::protobuf::Map<std::string, schemapb::TemplateValue>& values) {
  if (!values.empty())
    Fail(kMilvusParameterInvalid, "imgsearch does not support expression templates");
}

// --- connection -------------------------------------------------------------------------

void Connect(MilvusApi&, const milvuspb::ConnectRequest&, milvuspb::ConnectResponse* out) {
  static std::atomic<int64_t> next_identifier{1};
  commonpb::ServerInfo* info = out->mutable_server_info();
  info->set_build_tags(std::string("imgsearch ") + IMGSEARCH_VERSION);
  info->set_deploy_mode("STANDALONE");
  out->set_identifier(next_identifier++);
}

void GetVersion(MilvusApi&, const milvuspb::GetVersionRequest&, milvuspb::GetVersionResponse* out) {
  out->set_version(std::string("v2.5.0 (imgsearch ") + IMGSEARCH_VERSION + ")");
}

void CheckHealth(MilvusApi&, const milvuspb::CheckHealthRequest&,
                 milvuspb::CheckHealthResponse* out) {
  out->set_ishealthy(true);
}

void AllocTimestamp(MilvusApi&, const milvuspb::AllocTimestampRequest&,
                    milvuspb::AllocTimestampResponse* out) {
  out->set_timestamp(Timestamp());
}

void ListDatabases(MilvusApi&, const milvuspb::ListDatabasesRequest&,
                   milvuspb::ListDatabasesResponse* out) {
  out->add_db_names("default");
  out->add_db_ids(0);
}

// --- collections ------------------------------------------------------------------------

void CreateCollection(MilvusApi& api, const milvuspb::CreateCollectionRequest& req,
                      commonpb::Status*) {
  schemapb::CollectionSchema schema;
  if (!schema.ParseFromString(req.schema()))
    Fail(kMilvusIncorrectParameterFormat, "schema is not a CollectionSchema message");
  json body = Body(req.db_name(), req.collection_name());
  body["schema"] = milvus_proto::SchemaToJson(schema);
  if (!schema.description().empty()) body["description"] = schema.description();
  json params = {{"consistencyLevel", commonpb::ConsistencyLevel_Name(req.consistency_level())}};
  if (req.shards_num() > 1) params["shardsNum"] = req.shards_num();
  if (req.num_partitions() > 0) params["partitionsNum"] = req.num_partitions();
  for (const commonpb::KeyValuePair& p : req.properties()) params[p.key()] = p.value();
  body["params"] = params;
  Route(api, "collections/create", body);
}

void DescribeCollection(MilvusApi& api, const milvuspb::DescribeCollectionRequest& req,
                        milvuspb::DescribeCollectionResponse* out) {
  json d = Data(api, "collections/describe", Body(req.db_name(), req.collection_name()));
  milvus_proto::SchemaFromDescribe(d, out->mutable_schema());
  const std::string name = d.value("collectionName", "");
  out->set_collectionid(IdOf(name));
  out->set_collection_name(name);
  out->set_shards_num(1);
  out->set_consistency_level(commonpb::Strong);
  out->set_db_name("default");
  out->set_num_partitions(d.value("partitionsNum", int64_t(1)));
  for (const json& alias : d.value("aliases", json::array())) out->add_aliases(alias);
  out->add_virtual_channel_names(name + "_v0");
  out->add_physical_channel_names(name + "_p0");
}

void HasCollection(MilvusApi& api, const milvuspb::HasCollectionRequest& req,
                   milvuspb::BoolResponse* out) {
  out->set_value(Data(api, "collections/has", Body(req.db_name(), req.collection_name()))["has"]);
}

void ShowCollections(MilvusApi& api, const milvuspb::ShowCollectionsRequest& req,
                     milvuspb::ShowCollectionsResponse* out) {
  json body = json::object();
  if (!req.db_name().empty()) body["dbName"] = req.db_name();
  for (const json& name : Data(api, "collections/list", body)) {
    out->add_collection_names(name);
    out->add_collection_ids(IdOf(name));
    out->add_created_timestamps(0);
    out->add_created_utc_timestamps(0);
    out->add_query_service_available(true);
  }
}

void DropCollection(MilvusApi& api, const milvuspb::DropCollectionRequest& req, commonpb::Status*) {
  Route(api, "collections/drop", Body(req.db_name(), req.collection_name()));
}

void RenameCollection(MilvusApi& api, const milvuspb::RenameCollectionRequest& req,
                      commonpb::Status*) {
  json body = Body(req.db_name(), req.oldname());
  body["newCollectionName"] = req.newname();
  if (!req.newdbname().empty()) body["newDbName"] = req.newdbname();
  Route(api, "collections/rename", body);
}

void CollectionStatistics(MilvusApi& api, const milvuspb::GetCollectionStatisticsRequest& req,
                          milvuspb::GetCollectionStatisticsResponse* out) {
  json d = Data(api, "collections/get_stats", Body(req.db_name(), req.collection_name()));
  commonpb::KeyValuePair* kv = out->add_stats();
  kv->set_key("row_count");
  kv->set_value(std::to_string(d.value("rowCount", int64_t(0))));
}

void LoadCollection(MilvusApi& api, const milvuspb::LoadCollectionRequest& req, commonpb::Status*) {
  Route(api, "collections/load", Body(req.db_name(), req.collection_name()));
}

void ReleaseCollection(MilvusApi& api, const milvuspb::ReleaseCollectionRequest& req,
                       commonpb::Status*) {
  Route(api, "collections/release", Body(req.db_name(), req.collection_name()));
}

bool Loaded(MilvusApi& api, const std::string& db, const std::string& collection,
            const google::protobuf::RepeatedPtrField<std::string>& partitions) {
  json body = Body(db, collection);
  if (!partitions.empty()) body["partitionNames"] = Names(partitions);
  return Data(api, "collections/get_load_state", body)["loadState"] == "LoadStateLoaded";
}

void GetLoadState(MilvusApi& api, const milvuspb::GetLoadStateRequest& req,
                  milvuspb::GetLoadStateResponse* out) {
  bool loaded = Loaded(api, req.db_name(), req.collection_name(), req.partition_names());
  out->set_state(loaded ? commonpb::LoadStateLoaded : commonpb::LoadStateNotLoad);
}

void GetLoadingProgress(MilvusApi& api, const milvuspb::GetLoadingProgressRequest& req,
                        milvuspb::GetLoadingProgressResponse* out) {
  if (!Loaded(api, req.db_name(), req.collection_name(), req.partition_names()))
    Fail(kMilvusCollectionNotLoaded,
         "collection not loaded[collection=" + req.collection_name() + "]");
  out->set_progress(100);
  out->set_refresh_progress(100);
}

// --- indexes ----------------------------------------------------------------------------

void CreateIndex(MilvusApi& api, const milvuspb::CreateIndexRequest& req, commonpb::Status*) {
  std::map<std::string, std::string> extra = KeyValueMap(req.extra_params());
  json params = json::object();
  if (extra.count("params")) {
    params = ValueJson(extra["params"]);
    if (!params.is_object())
      Fail(kMilvusIncorrectParameterFormat, "index params must be a JSON object");
  }
  json index = {{"fieldName", req.field_name()}};
  if (!req.index_name().empty()) index["indexName"] = req.index_name();
  for (const auto& [key, value] : extra) {
    if (key == "index_type") {
      index["indexType"] = value;
    } else if (key == "metric_type") {
      index["metricType"] = value;
    } else if (key != "params") {
      params[key] = ValueJson(value);  // newer clients flatten the parameters
    }
  }
  index["params"] = params;
  json body = Body(req.db_name(), req.collection_name());
  body["indexParams"] = json::array({index});
  Route(api, "indexes/create", body);
}

// The index named, or the collection's one index when no name is given.
std::vector<std::string> IndexNames(MilvusApi& api, const std::string& db,
                                    const std::string& collection, const std::string& name,
                                    const std::string& field) {
  if (!name.empty()) return {name};
  std::vector<std::string> names;
  if (field.empty()) {
    names = Data(api, "indexes/list", Body(db, collection)).get<std::vector<std::string>>();
  } else {  // the index of that vector field only
    const json described = Data(api, "collections/describe", Body(db, collection));
    for (const json& index : described.value("indexes", json::array())) {
      if (index.value("fieldName", "") == field) names.push_back(index.value("indexName", ""));
    }
  }
  if (names.empty()) Fail(kMilvusIndexNotFound, "index not found[collection=" + collection + "]");
  return names;
}

void DescribeIndex(MilvusApi& api, const milvuspb::DescribeIndexRequest& req,
                   milvuspb::DescribeIndexResponse* out) {
  for (const std::string& name :
       IndexNames(api, req.db_name(), req.collection_name(), req.index_name(), req.field_name())) {
    json body = Body(req.db_name(), req.collection_name());
    body["indexName"] = name;
    for (const json& d : Data(api, "indexes/describe", body)) {
      milvuspb::IndexDescription* index = out->add_index_descriptions();
      index->set_index_name(d.value("indexName", ""));
      index->set_indexid(IdOf(index->index_name()));
      index->set_field_name(d.value("fieldName", ""));
      index->set_indexed_rows(d.value("indexedRows", int64_t(0)));
      index->set_total_rows(d.value("totalRows", int64_t(0)));
      index->set_pending_index_rows(d.value("pendingRows", int64_t(0)));
      index->set_state(commonpb::Finished);
      for (const auto& [key, value] : {std::pair<const char*, json>{"index_type", d["indexType"]},
                                       {"metric_type", d["metricType"]},
                                       {"params", json(d["params"].dump())}}) {
        commonpb::KeyValuePair* kv = index->add_params();
        kv->set_key(key);
        kv->set_value(value.get<std::string>());
      }
    }
  }
}

void DropIndex(MilvusApi& api, const milvuspb::DropIndexRequest& req, commonpb::Status*) {
  for (const std::string& name :
       IndexNames(api, req.db_name(), req.collection_name(), req.index_name(), req.field_name())) {
    json body = Body(req.db_name(), req.collection_name());
    body["indexName"] = name;
    Route(api, "indexes/drop", body);
  }
}

// --- writes -----------------------------------------------------------------------------

void SetIds(const json& ids, milvuspb::MutationResult* out) {
  schemapb::IDs* target = out->mutable_ids();
  for (const json& id : ids) {
    if (id.is_string()) {
      target->mutable_str_id()->add_data(id.get<std::string>());
    } else {
      target->mutable_int_id()->add_data(id.get<int64_t>());
    }
  }
  for (size_t i = 0; i < ids.size(); ++i) out->add_succ_index(uint32_t(i));
  out->set_timestamp(Timestamp());
}

// A write's request object, its vectors left in the message (`vectors` views them).
template <typename Request>
json WriteBody(const Request& req, MilvusVectorColumns* vectors) {
  json body = Body(req.db_name(), req.collection_name());
  if (!req.partition_name().empty()) body["partitionName"] = req.partition_name();
  std::vector<milvus_proto::VectorColumnView> columns;
  body["data"] = milvus_proto::RowsFromColumns(req.fields_data(), req.num_rows(), &columns);
  for (const milvus_proto::VectorColumnView& c : columns) {
    if (!vectors->emplace(c.name, MilvusVectorColumn{c.bytes, c.bytes_per_row, c.binary}).second)
      Fail(kMilvusInvalidInsertData, "field \"" + c.name + "\" is given twice");
  }
  return body;
}

template <typename Request>
json Write(MilvusApi& api, const std::string& route, const Request& req) {
  MilvusBinary binary;
  json body = WriteBody(req, &binary.columns);
  MilvusReply reply =
      api.CallObject(route, std::move(body), /*int64_as_string=*/false, std::move(binary));
  if (reply.code != kMilvusOk) Fail(reply.code, reply.message);
  return std::move(reply.data);
}

void Insert(MilvusApi& api, const milvuspb::InsertRequest& req, milvuspb::MutationResult* out) {
  json d = Write(api, "entities/insert", req);
  SetIds(d["insertIds"], out);
  out->set_insert_cnt(d.value("insertCount", int64_t(0)));
}

void Upsert(MilvusApi& api, const milvuspb::UpsertRequest& req, milvuspb::MutationResult* out) {
  json d = Write(api, "entities/upsert", req);
  SetIds(d["upsertIds"], out);
  out->set_upsert_cnt(d.value("upsertCount", int64_t(0)));
}

void Delete(MilvusApi& api, const milvuspb::DeleteRequest& req, milvuspb::MutationResult* out) {
  RefuseTemplates(req.expr_template_values());
  json body = Body(req.db_name(), req.collection_name());
  body["filter"] = req.expr();
  if (!req.partition_name().empty()) body["partitionName"] = req.partition_name();
  json d = Data(api, "entities/delete", body);
  out->set_delete_cnt(d.value("deleteCount", int64_t(0)));
  out->set_timestamp(Timestamp());
}

// --- reads ------------------------------------------------------------------------------

CollectionFields FieldsOf(MilvusApi& api, const std::string& db, const std::string& collection) {
  return milvus_proto::FieldsFromDescribe(Data(api, "collections/describe", Body(db, collection)));
}

// The keys of the answer's rows, in order of first appearance: the columns to return.
std::vector<std::string> RowKeys(const json& rows, const std::set<std::string>& drop) {
  std::vector<std::string> keys;
  std::set<std::string> seen = drop;
  for (const json& row : rows) {
    for (const auto& [key, value] : row.items()) {
      if (seen.insert(key).second) keys.push_back(key);
    }
  }
  return keys;
}

// One search in the dialect's form, from Milvus's message: search_params are key-value
// pairs, "params" among them a JSON object, into which clients (pymilvus 2.5) also copy
// every other key: those are taken out again. Hybrid search's entries take "metricType"
// and "params" at their top level.
json SearchBody(const milvuspb::SearchRequest& req, bool hybrid) {
  RefuseTemplates(req.expr_template_values());
  if (req.search_by_primary_keys() || req.sub_reqs_size() > 0)
    Fail(kMilvusParameterInvalid, "imgsearch searches by vectors, one search per request");
  std::map<std::string, std::string> kv = KeyValueMap(req.search_params());
  json body = json::object();
  if (!req.dsl().empty()) body["filter"] = req.dsl();
  json params = kv.count("params") ? ValueJson(kv["params"]) : json::object();
  if (!params.is_object())
    Fail(kMilvusIncorrectParameterFormat, "search params must be a JSON object");
  std::string metric = kv.count("metric_type") ? kv["metric_type"] : "";
  if (metric.empty() && params.contains("metric_type") && params["metric_type"].is_string())
    metric = params["metric_type"];
  // Keys of Milvus's own that are no index parameters.
  for (const char* key : {"metric_type", "topk", "round_decimal", "ignore_growing", "offset",
                          "anns_field", "params", "limit"})
    params.erase(key);
  if (kv.count("anns_field") && !kv["anns_field"].empty()) body["annsField"] = kv["anns_field"];
  for (const char* key : {"topk", "limit"}) {
    if (kv.count(key)) body["limit"] = ValueJson(kv[key]);
  }
  if (kv.count("offset")) body["offset"] = ValueJson(kv["offset"]);
  if (kv.count("group_by_field")) body["groupingField"] = kv["group_by_field"];
  if (hybrid) {
    if (!metric.empty()) body["metricType"] = metric;
    if (!params.empty()) body["params"] = params;
  } else {
    json search = json::object();
    if (!metric.empty()) search["metricType"] = metric;
    if (!params.empty()) search["params"] = params;
    if (!search.empty()) body["searchParams"] = search;
  }
  return body;
}

// A search's placeholder group (the serialized common.PlaceholderGroup) -> its query
// vectors as bytes, for the dialect to check against the collection.
QueryVectors QueryVectorsOf(const std::string& placeholder_group) {
  commonpb::PlaceholderGroup group;
  if (!group.ParseFromString(placeholder_group))
    Fail(kMilvusIncorrectParameterFormat, "placeholder_group is not a PlaceholderGroup");
  if (group.placeholders_size() != 1)
    Fail(kMilvusParameterInvalid, "a search takes one placeholder of query vectors");
  commonpb::PlaceholderValue& p = *group.mutable_placeholders(0);
  if (p.type() != commonpb::PlaceholderType::FloatVector &&
      p.type() != commonpb::PlaceholderType::BinaryVector) {
    Fail(kMilvusParameterInvalid, "imgsearch searches with float or binary vectors, not " +
                                      commonpb::PlaceholderType_Name(p.type()) +
                                      " (sparse vectors and text search are not supported)");
  }
  QueryVectors out;
  out.binary = p.type() == commonpb::PlaceholderType::BinaryVector;
  out.values.reserve(size_t(p.values_size()));
  for (std::string& bytes : *p.mutable_values()) out.values.push_back(std::move(bytes));
  return out;
}

// The dialect's answer to a search (asked with MilvusBinary::hits) as SearchResults: the
// keys, distances and topks as they are, and each output field as a column.
void SearchResultsOf(MilvusApi& api, const std::string& db, const std::string& collection,
                     const MilvusReply& reply,
                     const google::protobuf::RepeatedPtrField<std::string>& requested,
                     int64_t limit, milvuspb::SearchResults* out) {
  if (!reply.hits) Fail(kMilvusUnexpected, "the search answered without its hits");
  const MilvusHits& hits = *reply.hits;
  // The key is a column only when asked for, by name or with "*" (as Milvus answers).
  std::set<std::string> drop;
  if (std::find(requested.begin(), requested.end(), hits.primary_field) == requested.end() &&
      std::find(requested.begin(), requested.end(), "*") == requested.end())
    drop.insert(hits.primary_field);
  std::vector<std::string> names = RowKeys(reply.data, drop);

  schemapb::SearchResultData* r = out->mutable_results();
  r->set_num_queries(int64_t(hits.topks.size()));
  r->set_top_k(limit);
  r->mutable_topks()->Add(hits.topks.begin(), hits.topks.end());
  r->mutable_scores()->Add(hits.distances.begin(), hits.distances.end());
  if (!hits.int_ids.empty()) {
    r->mutable_ids()->mutable_int_id()->mutable_data()->Add(hits.int_ids.begin(),
                                                            hits.int_ids.end());
  }
  for (const std::string& id : hits.str_ids) r->mutable_ids()->mutable_str_id()->add_data(id);
  // The collection's fields are described only when there are columns to type.
  if (!names.empty()) {
    milvus_proto::ColumnsFromRows(reply.data, FieldsOf(api, db, collection), names,
                                  r->mutable_fields_data());
  }
  for (const std::string& name : names) r->add_output_fields(name);
  r->set_primary_field_name(hits.primary_field);
  out->set_collection_name(collection);
}

void Search(MilvusApi& api, const milvuspb::SearchRequest& req, milvuspb::SearchResults* out) {
  json body = SearchBody(req, /*hybrid=*/false);
  body["collectionName"] = req.collection_name();
  if (!req.db_name().empty()) body["dbName"] = req.db_name();
  if (req.partition_names_size() > 0) body["partitionNames"] = Names(req.partition_names());
  // No output fields: ids and distances alone, as Milvus answers a search.
  body["outputFields"] = Names(req.output_fields());
  int64_t limit =
      body.contains("limit") && body["limit"].is_number_integer() ? int64_t(body["limit"]) : 100;
  MilvusBinary binary;
  binary.queries.push_back(QueryVectorsOf(req.placeholder_group()));
  binary.hits = true;
  MilvusReply reply = Route(api, "entities/search", std::move(body), std::move(binary));
  SearchResultsOf(api, req.db_name(), req.collection_name(), reply, req.output_fields(), limit,
                  out);
}

void HybridSearch(MilvusApi& api, const milvuspb::HybridSearchRequest& req,
                  milvuspb::SearchResults* out) {
  json body = Body(req.db_name(), req.collection_name());
  json searches = json::array();
  MilvusBinary binary;
  binary.hits = true;
  for (const milvuspb::SearchRequest& sub : req.requests()) {
    searches.push_back(SearchBody(sub, true));
    binary.queries.push_back(QueryVectorsOf(sub.placeholder_group()));
  }
  body["search"] = searches;
  std::map<std::string, std::string> rank = KeyValueMap(req.rank_params());
  json rerank = {{"strategy", rank.count("strategy") ? rank["strategy"] : "rrf"}};
  if (rank.count("params")) rerank["params"] = ValueJson(rank["params"]);
  body["rerank"] = rerank;
  int64_t limit = 100;
  if (rank.count("limit")) {
    body["limit"] = ValueJson(rank["limit"]);
    if (body["limit"].is_number_integer()) limit = body["limit"];
  }
  if (rank.count("offset") && ValueJson(rank["offset"]) != 0)
    Fail(kMilvusParameterInvalid, "hybrid search does not take an offset in imgsearch");
  if (req.partition_names_size() > 0) body["partitionNames"] = Names(req.partition_names());
  if (req.output_fields_size() > 0) body["outputFields"] = Names(req.output_fields());
  MilvusReply reply = Route(api, "entities/hybrid_search", std::move(body), std::move(binary));
  SearchResultsOf(api, req.db_name(), req.collection_name(), reply, req.output_fields(), limit,
                  out);
}

void Query(MilvusApi& api, const milvuspb::QueryRequest& req, milvuspb::QueryResults* out) {
  RefuseTemplates(req.expr_template_values());
  json body = Body(req.db_name(), req.collection_name());
  if (!req.expr().empty()) body["filter"] = req.expr();
  if (req.output_fields_size() > 0) body["outputFields"] = Names(req.output_fields());
  if (req.partition_names_size() > 0) body["partitionNames"] = Names(req.partition_names());
  std::map<std::string, std::string> kv = KeyValueMap(req.query_params());
  for (const char* key : {"limit", "offset"}) {
    if (kv.count(key)) body[key] = ValueJson(kv[key]);
  }
  json rows = Data(api, "entities/query", body);
  CollectionFields fields = FieldsOf(api, req.db_name(), req.collection_name());
  std::vector<std::string> names = RowKeys(rows, {});
  if (rows.empty()) {  // empty columns still name the fields, as Milvus answers
    names = {fields.primary};
    for (const std::string& name :
         req.output_fields().empty()
             ? fields.order
             : std::vector<std::string>(req.output_fields().begin(), req.output_fields().end())) {
      if (fields.by_name.count(name) && name != fields.primary) names.push_back(name);
    }
  }
  milvus_proto::ColumnsFromRows(rows, fields, names, out->mutable_fields_data());
  for (const std::string& name : names) out->add_output_fields(name);
  out->set_collection_name(req.collection_name());
  out->set_primary_field_name(fields.primary);
}

// --- flush: every acknowledged write is durable already ---------------------------------

void Flush(MilvusApi& api, const milvuspb::FlushRequest& req, milvuspb::FlushResponse* out) {
  for (const std::string& name : req.collection_names()) {
    Route(api, "collections/get_stats", Body(req.db_name(), name));  // code 100 if unknown
    (*out->mutable_coll_segids())[name];
    (*out->mutable_flush_coll_segids())[name];
    (*out->mutable_coll_flush_ts())[name] = Timestamp();
    (*out->mutable_coll_seal_times())[name] = int64_t(Timestamp() >> 18) / 1000;
  }
  out->set_db_name("default");
}

void GetFlushState(MilvusApi&, const milvuspb::GetFlushStateRequest&,
                   milvuspb::GetFlushStateResponse* out) {
  out->set_flushed(true);
}

void GetFlushAllState(MilvusApi&, const milvuspb::GetFlushAllStateRequest&,
                      milvuspb::GetFlushAllStateResponse* out) {
  out->set_flushed(true);
}

// --- partitions -------------------------------------------------------------------------

template <typename Request>
json PartitionBody(const Request& req) {
  json body = Body(req.db_name(), req.collection_name());
  body["partitionName"] = req.partition_name();
  return body;
}

void CreatePartition(MilvusApi& api, const milvuspb::CreatePartitionRequest& req,
                     commonpb::Status*) {
  Route(api, "partitions/create", PartitionBody(req));
}

void DropPartition(MilvusApi& api, const milvuspb::DropPartitionRequest& req, commonpb::Status*) {
  Route(api, "partitions/drop", PartitionBody(req));
}

void HasPartition(MilvusApi& api, const milvuspb::HasPartitionRequest& req,
                  milvuspb::BoolResponse* out) {
  out->set_value(Data(api, "partitions/has", PartitionBody(req))["has"]);
}

void ShowPartitions(MilvusApi& api, const milvuspb::ShowPartitionsRequest& req,
                    milvuspb::ShowPartitionsResponse* out) {
  for (const json& name :
       Data(api, "partitions/list", Body(req.db_name(), req.collection_name()))) {
    out->add_partition_names(name);
    out->add_partitionids(IdOf(req.collection_name() + "/" + name.get<std::string>()));
    out->add_created_timestamps(0);
    out->add_created_utc_timestamps(0);
  }
}

template <typename Request>
json PartitionsBody(const Request& req) {
  json body = Body(req.db_name(), req.collection_name());
  body["partitionNames"] = Names(req.partition_names());
  return body;
}

void LoadPartitions(MilvusApi& api, const milvuspb::LoadPartitionsRequest& req, commonpb::Status*) {
  Route(api, "partitions/load", PartitionsBody(req));
}

void ReleasePartitions(MilvusApi& api, const milvuspb::ReleasePartitionsRequest& req,
                       commonpb::Status*) {
  Route(api, "partitions/release", PartitionsBody(req));
}

void PartitionStatistics(MilvusApi& api, const milvuspb::GetPartitionStatisticsRequest& req,
                         milvuspb::GetPartitionStatisticsResponse* out) {
  json d = Data(api, "partitions/get_stats", PartitionBody(req));
  commonpb::KeyValuePair* kv = out->add_stats();
  kv->set_key("row_count");
  kv->set_value(std::to_string(d.value("rowCount", int64_t(0))));
}

// --- aliases ----------------------------------------------------------------------------

template <typename Request>
json AliasBody(const Request& req) {
  json body = {{"aliasName", req.alias()}};
  if (!req.db_name().empty()) body["dbName"] = req.db_name();
  return body;
}

void CreateAlias(MilvusApi& api, const milvuspb::CreateAliasRequest& req, commonpb::Status*) {
  json body = AliasBody(req);
  body["collectionName"] = req.collection_name();
  Route(api, "aliases/create", body);
}

void AlterAlias(MilvusApi& api, const milvuspb::AlterAliasRequest& req, commonpb::Status*) {
  json body = AliasBody(req);
  body["collectionName"] = req.collection_name();
  Route(api, "aliases/alter", body);
}

void DropAlias(MilvusApi& api, const milvuspb::DropAliasRequest& req, commonpb::Status*) {
  Route(api, "aliases/drop", AliasBody(req));
}

void DescribeAlias(MilvusApi& api, const milvuspb::DescribeAliasRequest& req,
                   milvuspb::DescribeAliasResponse* out) {
  json d = Data(api, "aliases/describe", AliasBody(req));
  out->set_alias(d.value("aliasName", ""));
  out->set_collection(d.value("collectionName", ""));
  out->set_db_name("default");
}

void ListAliases(MilvusApi& api, const milvuspb::ListAliasesRequest& req,
                 milvuspb::ListAliasesResponse* out) {
  json body = json::object();
  if (!req.collection_name().empty()) body["collectionName"] = req.collection_name();
  if (!req.db_name().empty()) body["dbName"] = req.db_name();
  for (const json& alias : Data(api, "aliases/list", body)) out->add_aliases(alias);
  out->set_collection_name(req.collection_name());
  out->set_db_name("default");
}

// --- the table --------------------------------------------------------------------------

struct RpcEntry {
  std::string_view method;
  bool writes;
  GrpcAnswer (*run)(MilvusApi&, std::string_view);
};

#define IMGSEARCH_RPC(NAME, HANDLER, WRITES)                                               \
  RpcEntry {                                                                               \
    NAME, WRITES, [](MilvusApi& api, std::string_view b) { return Run(api, b, &HANDLER); } \
  }

const std::vector<RpcEntry>& RpcTable() {
  static const std::vector<RpcEntry> table = {
      IMGSEARCH_RPC("Connect", Connect, false),
      IMGSEARCH_RPC("GetVersion", GetVersion, false),
      IMGSEARCH_RPC("CheckHealth", CheckHealth, false),
      IMGSEARCH_RPC("AllocTimestamp", AllocTimestamp, false),
      IMGSEARCH_RPC("ListDatabases", ListDatabases, false),
      IMGSEARCH_RPC("CreateCollection", CreateCollection, true),
      IMGSEARCH_RPC("DescribeCollection", DescribeCollection, false),
      IMGSEARCH_RPC("HasCollection", HasCollection, false),
      IMGSEARCH_RPC("ShowCollections", ShowCollections, false),
      IMGSEARCH_RPC("DropCollection", DropCollection, true),
      IMGSEARCH_RPC("RenameCollection", RenameCollection, true),
      IMGSEARCH_RPC("GetCollectionStatistics", CollectionStatistics, false),
      IMGSEARCH_RPC("LoadCollection", LoadCollection, true),
      IMGSEARCH_RPC("ReleaseCollection", ReleaseCollection, true),
      IMGSEARCH_RPC("GetLoadState", GetLoadState, false),
      IMGSEARCH_RPC("GetLoadingProgress", GetLoadingProgress, false),
      IMGSEARCH_RPC("CreateIndex", CreateIndex, true),
      IMGSEARCH_RPC("DescribeIndex", DescribeIndex, false),
      IMGSEARCH_RPC("DropIndex", DropIndex, true),
      IMGSEARCH_RPC("Insert", Insert, true),
      IMGSEARCH_RPC("Upsert", Upsert, true),
      IMGSEARCH_RPC("Delete", Delete, true),
      IMGSEARCH_RPC("Search", Search, false),
      IMGSEARCH_RPC("HybridSearch", HybridSearch, false),
      IMGSEARCH_RPC("Query", Query, false),
      IMGSEARCH_RPC("Flush", Flush, true),
      IMGSEARCH_RPC("GetFlushState", GetFlushState, false),
      IMGSEARCH_RPC("GetFlushAllState", GetFlushAllState, false),
      IMGSEARCH_RPC("CreatePartition", CreatePartition, true),
      IMGSEARCH_RPC("DropPartition", DropPartition, true),
      IMGSEARCH_RPC("HasPartition", HasPartition, false),
      IMGSEARCH_RPC("ShowPartitions", ShowPartitions, false),
      IMGSEARCH_RPC("LoadPartitions", LoadPartitions, true),
      IMGSEARCH_RPC("ReleasePartitions", ReleasePartitions, true),
      IMGSEARCH_RPC("GetPartitionStatistics", PartitionStatistics, false),
      IMGSEARCH_RPC("CreateAlias", CreateAlias, true),
      IMGSEARCH_RPC("AlterAlias", AlterAlias, true),
      IMGSEARCH_RPC("DropAlias", DropAlias, true),
      IMGSEARCH_RPC("DescribeAlias", DescribeAlias, false),
      IMGSEARCH_RPC("ListAliases", ListAliases, false),
  };
  return table;
}

#undef IMGSEARCH_RPC

const RpcEntry* FindRpc(std::string_view method) {
  for (const RpcEntry& entry : RpcTable()) {
    if (entry.method == method) return &entry;
  }
  return nullptr;
}

// RPCs of features imgsearch refuses as a whole (as the REST dialect's routes of users,
// roles, privilege groups, bulk import, databases and resource groups).
bool RefusedFeature(std::string_view method) {
  static const std::vector<std::string_view> words = {
      "Credential", "CredUser", "Role",     "Privilege",     "Grant",
      "SelectUser", "Import",   "Database", "ResourceGroup", "Replica"};
  for (std::string_view word : words) {
    if (method.find(word) != std::string_view::npos) return true;
  }
  return false;
}

}  // namespace

int GrpcScope(const std::vector<Token>& tokens, std::string_view authorization) {
  if (tokens.empty()) return 1;
  std::optional<std::string> decoded = base::Base64Decode(std::string(authorization));
  if (!decoded) return -1;
  // "user:password" with a token as the password (pymilvus's user and password), or the
  // token alone (pymilvus's token).
  size_t colon = decoded->find(':');
  if (colon != std::string::npos) {
    int scope = TokenScope(tokens, decoded->substr(colon + 1));
    if (scope >= 0) return scope;
  }
  return TokenScope(tokens, *decoded);
}

bool MilvusCallWrites(std::string_view method) {
  const RpcEntry* entry = FindRpc(method);
  return entry != nullptr && entry->writes;
}

GrpcAnswer AnswerMilvusCall(MilvusApi& api, std::string_view method, std::string_view request,
                            int scope) {
  const RpcEntry* entry = FindRpc(method);
  if (scope < 0) {
    return {GrpcCode::kUnauthenticated,
            "a valid token is required (authorization metadata: base64 of the token, or of "
            "user:token)",
            ""};
  }
  const std::string name = "MilvusService/" + std::string(method);
  if (entry == nullptr) {
    std::string message = "imgsearch does not implement " + name;
    if (RefusedFeature(method)) {
      // The REST dialect's refusal, so that both protocols say the same.
      message += ": " + api.CallObject("users/list", json::object(), false).message;
    }
    return {GrpcCode::kUnimplemented, message, ""};
  }
  if (entry->writes && scope < 1)
    return {GrpcCode::kPermissionDenied, name + " changes data: this token may read but not write",
            ""};
  return entry->run(api, request);
}

}  // namespace imgsearch::server
