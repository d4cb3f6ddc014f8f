#include "remote/milvus_grpc_transport.h"

#include <grpcpp/grpcpp.h>

#include <map>
#include <mutex>
#include <set>

#include "base/base64.h"
#include "milvus.grpc.pb.h"
#include "remote/milvus_codes.h"
#include "remote/milvus_proto_convert.h"

namespace imgsearch::remote {

namespace {

using json = nlohmann::json;
namespace milvuspb = milvus::proto::milvus;
namespace commonpb = milvus::proto::common;
namespace schemapb = milvus::proto::schema;
using Stub = milvuspb::MilvusService::Stub;
using milvus_proto::CollectionFields;

// A call that did not get a response: the HTTP-like status MilvusClient judges by.
struct TransportFailure {
  int status;
  std::string message;
};

int StatusFor(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return 503;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return 408;
    case grpc::StatusCode::UNAUTHENTICATED:
      return 401;
    case grpc::StatusCode::PERMISSION_DENIED:
      return 403;
    default:
      return 500;
  }
}

class MilvusGrpcTransport final : public MilvusTransport {
 public:
  MilvusGrpcTransport(const MilvusEndpoint& endpoint, double timeout_seconds)
      : describe_(endpoint.Describe()), timeout_seconds_(timeout_seconds) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(INT32_MAX);
    args.SetMaxSendMessageSize(INT32_MAX);
    auto credentials = endpoint.tls ? grpc::SslCredentials(grpc::SslCredentialsOptions())
                                    : grpc::InsecureChannelCredentials();
    channel_ = grpc::CreateCustomChannel(endpoint.host + ":" + std::to_string(endpoint.port),
                                         credentials, args);
    stub_ = milvuspb::MilvusService::NewStub(channel_);
  }

  Result<HttpAnswer> Post(const std::string& path, const std::string&,
                          const std::string&) override {
    return Status::Unsupported(describe_ + " speaks gRPC, not REST (" + path + ")");
  }

  Result<RouteAnswer> Call(const std::string& route, const json& body,
                           const std::string& token) override {
    try {
      Request request{this, body, token};
      json data = Dispatch(route, request);
      RouteAnswer answer{200, {{"code", 0}, {"data", data}}, ""};
      return answer;
    } catch (const MilvusFailure& failure) {
      return RouteAnswer{
          200, {{"code", failure.code}, {"message", failure.message}}, failure.message};
    } catch (const TransportFailure& failure) {
      if (failure.status == 503) return Status::IOError(describe_ + ": " + failure.message);
      return RouteAnswer{failure.status, json(), failure.message};
    } catch (const json::exception& e) {
      return Status::InvalidArgument(describe_ + " " + route + ": " + e.what());
    }
  }

 private:
  struct Request {
    MilvusGrpcTransport* transport;
    const json& body;
    const std::string& token;

    std::string Collection() const { return body.value("collectionName", ""); }
    std::string Db() const { return body.value("dbName", ""); }

    // One RPC with the token and time limit; its status, if not OK, thrown.
    template <typename Req, typename Resp>
    Resp Rpc(grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
             const Req& req) const {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() +
                           std::chrono::milliseconds(int64_t(transport->timeout_seconds_ * 1000)));
      if (!token.empty()) context.AddMetadata("authorization", base::Base64Encode(token));
      Resp response;
      grpc::Status status = (transport->stub_.get()->*method)(&context, req, &response);
      if (!status.ok()) {
        throw TransportFailure{
            StatusFor(status.error_code()),
            "gRPC " + std::to_string(int(status.error_code())) + ": " + status.error_message()};
      }
      Check(StatusOf(response));
      return response;
    }
  };

  static const commonpb::Status& StatusOf(const commonpb::Status& status) { return status; }
  template <typename Resp>
  static const commonpb::Status& StatusOf(const Resp& response) {
    return response.status();
  }
  static void Check(const commonpb::Status& status) {
    int code = status.code();
    // Servers older than Milvus 2.3.2 set only the deprecated error_code.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    if (code == 0 && status.error_code() != commonpb::Success) code = kMilvusUnexpected;
#pragma GCC diagnostic pop
    if (code != 0) Fail(code, status.reason());
  }

  template <typename Req>
  static Req With(const Request& r) {
    Req req;
    req.set_db_name(r.Db());
    req.set_collection_name(r.Collection());
    return req;
  }

  json Dispatch(const std::string& route, const Request& r);
  json CreateCollection(const Request& r);
  json Describe(const Request& r);
  json DescribeIndex(const Request& r, const std::string& index_name);
  json Write(const Request& r, bool upsert);
  json Query(const Request& r, const std::string& expr);
  json Search(const Request& r);
  json CreateIndexes(const Request& r, const json& indexes);
  std::string LoadState(const Request& r);
  CollectionFields Fields(const Request& r);
  void Forget(const std::string& collection) {
    std::lock_guard<std::mutex> lock(mutex_);
    fields_.erase(collection);
  }

  std::string describe_;
  double timeout_seconds_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<Stub> stub_;
  std::mutex mutex_;
  std::map<std::string, CollectionFields> fields_;  // by collection: what writes need
};

json MilvusGrpcTransport::Dispatch(const std::string& route, const Request& r) {
  if (route == "collections/create") return CreateCollection(r);
  if (route == "collections/describe") return Describe(r);
  if (route == "collections/has") {
    return {{"has", r.Rpc(&Stub::HasCollection, With<milvuspb::HasCollectionRequest>(r)).value()}};
  }
  if (route == "collections/list") {
    milvuspb::ShowCollectionsRequest req;
    req.set_db_name(r.Db());
    json names = json::array();
    const milvuspb::ShowCollectionsResponse shown = r.Rpc(&Stub::ShowCollections, req);
    for (const std::string& name : shown.collection_names()) names.push_back(name);
    return names;
  }
  if (route == "collections/drop") {
    Forget(r.Collection());
    r.Rpc(&Stub::DropCollection, With<milvuspb::DropCollectionRequest>(r));
    return json::object();
  }
  if (route == "collections/rename") {
    milvuspb::RenameCollectionRequest req;
    req.set_db_name(r.Db());
    req.set_oldname(r.Collection());
    req.set_newname(r.body.value("newCollectionName", ""));
    Forget(req.oldname());
    Forget(req.newname());
    r.Rpc(&Stub::RenameCollection, req);
    return json::object();
  }
  if (route == "collections/get_load_state") return {{"loadState", LoadState(r)}};
  if (route == "collections/load") {
    r.Rpc(&Stub::LoadCollection, With<milvuspb::LoadCollectionRequest>(r));
    return json::object();
  }
  if (route == "collections/release") {
    r.Rpc(&Stub::ReleaseCollection, With<milvuspb::ReleaseCollectionRequest>(r));
    return json::object();
  }
  if (route == "collections/get_stats") {
    auto stats =
        r.Rpc(&Stub::GetCollectionStatistics, With<milvuspb::GetCollectionStatisticsRequest>(r));
    int64_t rows = 0;
    for (const commonpb::KeyValuePair& kv : stats.stats()) {
      if (kv.key() == "row_count") rows = std::atoll(kv.value().c_str());
    }
    return {{"rowCount", rows}};
  }
  if (route == "indexes/describe") return DescribeIndex(r, r.body.value("indexName", ""));
  if (route == "indexes/create")
    return CreateIndexes(r, r.body.value("indexParams", json::array()));
  if (route == "indexes/drop") {
    auto req = With<milvuspb::DropIndexRequest>(r);
    req.set_index_name(r.body.value("indexName", ""));
    r.Rpc(&Stub::DropIndex, req);
    return json::object();
  }
  if (route == "entities/insert") return Write(r, false);
  if (route == "entities/upsert") return Write(r, true);
  if (route == "entities/delete") {
    auto req = With<milvuspb::DeleteRequest>(r);
    req.set_expr(r.body.value("filter", ""));
    req.set_partition_name(r.body.value("partitionName", ""));
    req.set_consistency_level(commonpb::Strong);
    return {{"deleteCount", r.Rpc(&Stub::Delete, req).delete_cnt()}};
  }
  if (route == "entities/query") return Query(r, r.body.value("filter", ""));
  if (route == "entities/get") {
    std::string ids;
    for (const json& id : r.body.value("id", json::array()))
      ids += (ids.empty() ? "" : ", ") + id.dump();
    return Query(r, Fields(r).primary + " in [" + ids + "]");
  }
  if (route == "entities/search") return Search(r);
  Fail(kMilvusServiceUnimplemented, "the gRPC transport has no route " + route);
}

json MilvusGrpcTransport::CreateCollection(const Request& r) {
  auto req = With<milvuspb::CreateCollectionRequest>(r);
  schemapb::CollectionSchema schema;
  milvus_proto::SchemaFromJson(r.Collection(), r.body.value("schema", json::object()), &schema);
  schema.set_description(r.body.value("description", ""));
  req.set_schema(schema.SerializeAsString());
  req.set_shards_num(1);
  req.set_consistency_level(commonpb::Strong);
  Forget(r.Collection());
  r.Rpc(&Stub::CreateCollection, req);
  CreateIndexes(r, r.body.value("indexParams", json::array()));
  r.Rpc(&Stub::LoadCollection, With<milvuspb::LoadCollectionRequest>(r));
  return json::object();
}

json MilvusGrpcTransport::CreateIndexes(const Request& r, const json& indexes) {
  for (const json& index : indexes) {
    auto req = With<milvuspb::CreateIndexRequest>(r);
    req.set_field_name(index.value("fieldName", ""));
    req.set_index_name(index.value("indexName", ""));
    auto add = [&](const char* key, const std::string& value) {
      commonpb::KeyValuePair* kv = req.add_extra_params();
      kv->set_key(key);
      kv->set_value(value);
    };
    add("index_type", index.value("indexType", "AUTOINDEX"));
    add("metric_type", index.value("metricType", "L2"));
    add("params", index.value("params", json::object()).dump());
    r.Rpc(&Stub::CreateIndex, req);
  }
  return json::object();
}

std::string MilvusGrpcTransport::LoadState(const Request& r) {
  auto state = r.Rpc(&Stub::GetLoadState, With<milvuspb::GetLoadStateRequest>(r));
  return commonpb::LoadState_Name(state.state());
}

json MilvusGrpcTransport::Describe(const Request& r) {
  auto described = r.Rpc(&Stub::DescribeCollection, With<milvuspb::DescribeCollectionRequest>(r));
  json out = milvus_proto::DescribeJson(described.schema());
  out["collectionName"] = r.Collection();
  json indexes = json::array();
  try {
    for (const json& index : DescribeIndex(r, "")) {
      indexes.push_back({{"fieldName", index["fieldName"]},
                         {"indexName", index["indexName"]},
                         {"metricType", index["metricType"]}});
    }
  } catch (const MilvusFailure& failure) {
    if (failure.code != kMilvusIndexNotFound) throw;  // no index yet
  }
  out["indexes"] = indexes;
  out["load"] = LoadState(r);
  return out;
}

json MilvusGrpcTransport::DescribeIndex(const Request& r, const std::string& index_name) {
  auto req = With<milvuspb::DescribeIndexRequest>(r);
  req.set_index_name(index_name);
  json out = json::array();
  const milvuspb::DescribeIndexResponse described = r.Rpc(&Stub::DescribeIndex, req);
  for (const milvuspb::IndexDescription& d : described.index_descriptions()) {
    std::map<std::string, std::string> params = milvus_proto::KeyValueMap(d.params());
    json index_params =
        params.count("params") ? milvus_proto::ValueJson(params["params"]) : json::object();
    if (!index_params.is_object()) index_params = json::object();
    for (const auto& [key, value] : params) {  // Milvus 2.3 lists the parameters flat
      if (key != "params" && key != "index_type" && key != "metric_type")
        index_params[key] = milvus_proto::ValueJson(value);
    }
    out.push_back({{"indexName", d.index_name()},
                   {"fieldName", d.field_name()},
                   {"indexType", params["index_type"]},
                   {"metricType", params["metric_type"]},
                   {"params", index_params},
                   {"totalRows", d.total_rows()},
                   {"indexedRows", d.indexed_rows()},
                   {"pendingRows", d.pending_index_rows()},
                   {"indexState", commonpb::IndexState_Name(d.state())}});
  }
  return out;
}

CollectionFields MilvusGrpcTransport::Fields(const Request& r) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = fields_.find(r.Collection());
    if (it != fields_.end()) return it->second;
  }
  auto described = r.Rpc(&Stub::DescribeCollection, With<milvuspb::DescribeCollectionRequest>(r));
  CollectionFields fields =
      milvus_proto::FieldsFromDescribe(milvus_proto::DescribeJson(described.schema()));
  std::lock_guard<std::mutex> lock(mutex_);
  return fields_.emplace(r.Collection(), std::move(fields)).first->second;
}

// The keys of rows, in order of first appearance.
std::vector<std::string> KeysOf(const json& rows) {
  std::vector<std::string> keys;
  std::set<std::string> seen;
  for (const json& row : rows) {
    for (const auto& [key, value] : row.items()) {
      if (seen.insert(key).second) keys.push_back(key);
    }
  }
  return keys;
}

json IdsJson(const schemapb::IDs& ids) {
  json out = json::array();
  for (int64_t id : ids.int_id().data()) out.push_back(id);
  for (const std::string& id : ids.str_id().data()) out.push_back(id);
  return out;
}

template <typename Req>
void FillColumns(const json& rows, const CollectionFields& fields, Req* req) {
  milvus_proto::ColumnsFromRows(rows, fields, KeysOf(rows), req->mutable_fields_data());
  bool has_meta = false;
  for (const schemapb::FieldData& f : req->fields_data()) has_meta = has_meta || f.is_dynamic();
  if (fields.dynamic && !has_meta) {  // Milvus wants the dynamic column, empty or not
    schemapb::FieldData* meta = req->add_fields_data();
    meta->set_field_name("$meta");
    meta->set_type(schemapb::JSON);
    meta->set_is_dynamic(true);
    for (size_t i = 0; i < rows.size(); ++i)
      meta->mutable_scalars()->mutable_json_data()->add_data("{}");
  }
  req->set_num_rows(uint32_t(rows.size()));
}

json MilvusGrpcTransport::Write(const Request& r, bool upsert) {
  const json& rows = r.body.at("data");
  CollectionFields fields = Fields(r);
  if (upsert) {
    auto req = With<milvuspb::UpsertRequest>(r);
    req.set_partition_name(r.body.value("partitionName", ""));
    FillColumns(rows, fields, &req);
    auto result = r.Rpc(&Stub::Upsert, req);
    return {{"upsertCount", result.upsert_cnt()}, {"upsertIds", IdsJson(result.ids())}};
  }
  auto req = With<milvuspb::InsertRequest>(r);
  req.set_partition_name(r.body.value("partitionName", ""));
  FillColumns(rows, fields, &req);
  auto result = r.Rpc(&Stub::Insert, req);
  return {{"insertCount", result.insert_cnt()}, {"insertIds", IdsJson(result.ids())}};
}

json MilvusGrpcTransport::Query(const Request& r, const std::string& expr) {
  auto req = With<milvuspb::QueryRequest>(r);
  req.set_expr(expr);
  for (const json& name : r.body.value("outputFields", json::array())) req.add_output_fields(name);
  for (const char* key : {"limit", "offset"}) {
    if (r.body.contains(key)) {
      commonpb::KeyValuePair* kv = req.add_query_params();
      kv->set_key(key);
      kv->set_value(r.body[key].dump());
    }
  }
  req.set_consistency_level(commonpb::Strong);
  auto results = r.Rpc(&Stub::Query, req);
  return milvus_proto::RowsFromColumns(results.fields_data(), 0);
}

json MilvusGrpcTransport::Search(const Request& r) {
  CollectionFields fields = Fields(r);
  std::string anns = r.body.value("annsField", "");
  bool binary = fields.by_name.count(anns) && fields.by_name[anns].type == schemapb::BinaryVector;
  auto req = With<milvuspb::SearchRequest>(r);
  req.set_placeholder_group(milvus_proto::PlaceholdersFromVectors(r.body.at("data"), binary));
  req.set_nq(int64_t(r.body.at("data").size()));
  req.set_dsl(r.body.value("filter", ""));
  req.set_dsl_type(commonpb::BoolExprV1);
  req.set_consistency_level(commonpb::Strong);
  for (const json& name : r.body.value("outputFields", json::array())) req.add_output_fields(name);
  json params = r.body.value("searchParams", json::object()).value("params", json::object());
  std::map<std::string, std::string> kv = {{"anns_field", anns},
                                           {"topk", r.body.value("limit", json(10)).dump()},
                                           {"params", params.dump()},
                                           {"round_decimal", "-1"}};
  if (r.body.contains("offset")) kv["offset"] = r.body["offset"].dump();
  for (const auto& [key, value] : kv) {
    commonpb::KeyValuePair* pair = req.add_search_params();
    pair->set_key(key);
    pair->set_value(value);
  }
  auto results = r.Rpc(&Stub::Search, req);
  const schemapb::SearchResultData& data = results.results();
  json ids = IdsJson(data.ids());
  json hits = milvus_proto::RowsFromColumns(data.fields_data(), uint32_t(ids.size()));
  if (hits.size() != ids.size() || size_t(data.scores_size()) != ids.size())
    Fail(kMilvusUnexpected, "a search answered " + std::to_string(ids.size()) + " ids, " +
                                std::to_string(data.scores_size()) + " scores and " +
                                std::to_string(hits.size()) + " rows");
  for (size_t i = 0; i < ids.size(); ++i) {
    hits[i][fields.primary] = ids[i];
    hits[i]["id"] = ids[i];
    hits[i]["distance"] = data.scores(int(i));
  }
  return hits;
}

}  // namespace

std::unique_ptr<MilvusTransport> GrpcTransport(const MilvusEndpoint& endpoint,
                                               double timeout_seconds) {
  return std::make_unique<MilvusGrpcTransport>(endpoint, timeout_seconds);
}

std::unique_ptr<MilvusTransport> TransportFor(const MilvusEndpoint& endpoint,
                                              double timeout_seconds) {
  if (endpoint.rest) return HttpTransport(endpoint, timeout_seconds);
  return GrpcTransport(endpoint, timeout_seconds);
}

}  // namespace imgsearch::remote
