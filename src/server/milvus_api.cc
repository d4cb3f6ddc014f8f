#include "server/milvus_api.h"

#include <algorithm>

#include "base/json.h"
#include "server/milvus_json_vectors.h"
#include "server/milvus_request.h"

namespace imgsearch::server {

using json = nlohmann::json;

void FailIfError(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
      return;
    case StatusCode::kNotFound:
      Fail(kMilvusCollectionNotFound, status.message());
    case StatusCode::kInvalidArgument:
    case StatusCode::kUnsupported:
    case StatusCode::kResourceExhausted:
      Fail(kMilvusParameterInvalid, status.message());
    default:
      Fail(kMilvusUnexpected, status.message());
  }
}

json MilvusReply::ToJson() const {
  json out = extra;
  out["code"] = code;
  if (code == kMilvusOk) {
    out["data"] = data;
  } else {
    out["message"] = message;
  }
  return out;
}

namespace {

struct RouteEntry {
  MilvusRoute route;
  MilvusHandlers::Handler handler;
};

// Every route of the dialect: its name, whether it writes, and its handler.
const std::vector<RouteEntry>& RouteTable() {
  using H = MilvusHandlers;
  static const std::vector<RouteEntry> table = {
      {{"collections/create", true}, &H::CreateCollection},
      {{"collections/describe", false}, &H::DescribeCollection},
      {{"collections/list", false}, &H::ListCollections},
      {{"collections/has", false}, &H::HasCollection},
      {{"collections/drop", true}, &H::DropCollection},
      {{"collections/get_stats", false}, &H::CollectionStats},
      {{"collections/load", true}, &H::LoadCollection},
      {{"collections/release", true}, &H::ReleaseCollection},
      {{"collections/get_load_state", false}, &H::LoadState},
      {{"entities/insert", true}, &H::Insert},
      {{"entities/upsert", true}, &H::Upsert},
      {{"entities/delete", true}, &H::Delete},
      {{"entities/get", false}, &H::Get},
      {{"entities/query", false}, &H::Query},
      {{"entities/search", false}, &H::Search},
      {{"indexes/create", true}, &H::CreateIndex},
      {{"indexes/describe", false}, &H::DescribeIndex},
      {{"indexes/list", false}, &H::ListIndexes},
      {{"indexes/drop", true}, &H::DropIndex},
      {{"collections/rename", true}, &H::RenameCollection},
      {{"entities/hybrid_search", false}, &H::HybridSearch},
      {{"partitions/create", true}, &H::CreatePartition},
      {{"partitions/list", false}, &H::ListPartitions},
      {{"partitions/has", false}, &H::HasPartition},
      {{"partitions/drop", true}, &H::DropPartition},
      {{"partitions/load", true}, &H::LoadPartitions},
      {{"partitions/release", true}, &H::ReleasePartitions},
      {{"partitions/get_stats", false}, &H::PartitionStats},
      {{"aliases/create", true}, &H::CreateAlias},
      {{"aliases/describe", false}, &H::DescribeAlias},
      {{"aliases/list", false}, &H::ListAliases},
      {{"aliases/alter", true}, &H::AlterAlias},
      {{"aliases/drop", true}, &H::DropAlias},
      // Milvus 2.4's first name for hybrid_search.
      {{"entities/advanced_search", false}, &H::HybridSearch},
  };
  return table;
}

// Milvus routes imgsearch refuses as a whole: users, roles and privileges (imgsearch has
// bearer tokens instead), bulk import (from object storage), databases (one, "default")
// and resource groups (one process).
const std::vector<std::string>& RefusedGroups() {
  static const std::vector<std::string> groups = {"users/",       "roles/",     "privilege_groups/",
                                                  "jobs/import/", "databases/", "resource_groups/"};
  return groups;
}

}  // namespace

const std::vector<MilvusRoute>& MilvusApi::Routes() {
  static const std::vector<MilvusRoute> routes = [] {
    std::vector<MilvusRoute> out;
    for (const RouteEntry& entry : RouteTable()) out.push_back(entry.route);
    return out;
  }();
  return routes;
}

bool MilvusApi::Refused(const std::string& route) {
  for (const std::string& group : RefusedGroups()) {
    if (route.rfind(group, 0) == 0 && route.size() > group.size()) return true;
  }
  return false;
}

MilvusHandlers::Handler MilvusHandlers::Find(const std::string& route, bool* writes) {
  *writes = true;
  for (const RouteEntry& entry : RouteTable()) {
    if (entry.route.name != route) continue;
    *writes = entry.route.writes;
    return entry.handler;
  }
  if (MilvusApi::Refused(route)) return &MilvusHandlers::Unimplemented;
  return nullptr;
}

json MilvusHandlers::Unimplemented(MilvusApi::Context&, MilvusReply&) {
  Fail(kMilvusServiceUnimplemented,
       "service unimplemented: imgsearch has no Milvus users, roles, privilege groups, bulk "
       "import, databases other than \"default\" or resource groups (use serve --token for "
       "access control, and entities/insert or imgsearch index for data)");
}

bool MilvusHandlers::IsReleased(MilvusApi& api, const std::string& name) {
  std::lock_guard<std::mutex> lock(api.released_mutex_);
  return api.released_.count(name) > 0;
}

void MilvusHandlers::SetReleased(MilvusApi& api, const std::string& name, bool released) {
  std::lock_guard<std::mutex> lock(api.released_mutex_);
  if (released) {
    api.released_.insert(name);
  } else {
    api.released_.erase(name);
  }
  api.released_partitions_.erase(name);
}

std::set<std::string> MilvusHandlers::ReleasedPartitions(MilvusApi& api, const std::string& name) {
  std::lock_guard<std::mutex> lock(api.released_mutex_);
  auto it = api.released_partitions_.find(name);
  return it == api.released_partitions_.end() ? std::set<std::string>() : it->second;
}

void MilvusHandlers::SetPartitionsReleased(MilvusApi& api, const std::string& name,
                                           const std::vector<std::string>& partitions,
                                           bool released) {
  std::lock_guard<std::mutex> lock(api.released_mutex_);
  std::set<std::string>& set = api.released_partitions_[name];
  for (const std::string& p : partitions) {
    if (released) {
      set.insert(p);
    } else {
      set.erase(p);
    }
  }
}

void MilvusHandlers::RenameLoadState(MilvusApi& api, const std::string& from,
                                     const std::string& to) {
  std::lock_guard<std::mutex> lock(api.released_mutex_);
  if (api.released_.erase(from) > 0) api.released_.insert(to);
  auto it = api.released_partitions_.find(from);
  if (it != api.released_partitions_.end()) {
    api.released_partitions_[to] = std::move(it->second);
    api.released_partitions_.erase(from);
  }
}

MilvusReply MilvusApi::Call(const std::string& route, const std::string& body,
                            bool int64_as_string) {
  json request = json::object();
  MilvusBinary binary;
  if (route == "entities/search") {
    // The query vectors straight into floats; the rest parsed as JSON. A rest that does
    // not parse is reported as the whole body's problem, with its byte.
    if (std::optional<SplitSearchBody> split = SplitQueryVectors(body)) {
      Result<json> parsed = base::ParseJson(split->rest);
      if (parsed.ok() && parsed->is_object()) {
        binary.queries.push_back(std::move(split->vectors));
        return CallObject(route, std::move(parsed).value(), int64_as_string, std::move(binary));
      }
    }
  }
  if (!body.empty()) {
    Result<json> parsed = base::ParseJson(body);
    if (!parsed.ok()) {
      return MilvusReply{kMilvusIncorrectParameterFormat,
                         "the request body must be a JSON object: " + parsed.status().message()};
    }
    // Milvus reads an empty body or the literal null as a request with no parameters
    // (clients send either for collections/list).
    if (parsed->is_null()) parsed = json::object();
    if (!parsed->is_object())
      return MilvusReply{kMilvusIncorrectParameterFormat, "the request body must be a JSON object"};
    request = std::move(parsed).value();
  }
  return CallObject(route, std::move(request), int64_as_string);
}

// A large insert is tens of megabytes of buffers (5,000 rows of 512 floats: about 80 MB
// as JSON nodes), freed when the call ends but kept by glibc in the arena of the thread
// that served it. The collection hands them back to the system once writes pause
// (store/collection_persist.cc): trimmed after every call, the next call faulted all of
// its pages in again, about a fifth of serve's CPU during a bulk load.
MilvusReply MilvusApi::CallObject(const std::string& route, json request, bool int64_as_string,
                                  MilvusBinary binary) {
  Context context{this, std::move(request), int64_as_string, std::move(binary)};
  MilvusReply reply;
  bool writes = true;
  MilvusHandlers::Handler handler = MilvusHandlers::Find(route, &writes);
  try {
    if (!context.body.is_object())
      Fail(kMilvusIncorrectParameterFormat, "the request must be an object");
    if (handler == nullptr) Fail(kMilvusParameterInvalid, "imgsearch does not serve " + route);
    if (writes) {
      reply.data = handler(context, reply);
    } else {
      // A read route looks the collection up, reads its settings (partitions, vector
      // fields, aliases) and searches or queries it: one look at other processes'
      // changes for all of them, not one each.
      db_.ReadTogether([&] { reply.data = handler(context, reply); });
    }
  } catch (const MilvusFailure& failure) {
    reply = MilvusReply{failure.code, failure.message};
  } catch (const json::exception& e) {
    // A value of the wrong JSON type deep inside a request.
    reply =
        MilvusReply{kMilvusIncorrectParameterFormat, std::string("malformed request: ") + e.what()};
  } catch (const std::exception& e) {
    reply = MilvusReply{kMilvusUnexpected, e.what()};
  }
  return reply;
}

// --- Context ---------------------------------------------------------------------------

namespace {

// Request keys that Milvus reads and imgsearch cannot honour: refused by name, never
// ignored, since ignoring them would change the answer.
bool UnsupportedParameter(const std::string& key) {
  static const std::set<std::string> keys = {
      "groupingField", "groupSize",           "strictGroupSize", "exprParams",
      "functions",     "searchByPrimaryKeys", "properties",      "numPartitions",
      "partitionKey",  "isClusteringKey",     "analyzerName",    "iterator"};
  return keys.count(key) > 0;
}

bool IsDefaultPartition(const json& v) {
  if (v.is_null()) return true;
  if (v.is_string()) return v.get<std::string>().empty() || v == "_default";
  if (v.is_array()) {
    for (const json& p : v) {
      if (p != "_default") return false;
    }
    return true;
  }
  return false;
}

}  // namespace

void MilvusApi::Context::AcceptOnly(std::initializer_list<std::string_view> accepted) const {
  // A handful of names, looked through: no set built for every request.
  auto is_accepted = [&](const std::string& key) {
    return std::find(accepted.begin(), accepted.end(), key) != accepted.end();
  };
  for (const auto& [key, value] : body.items()) {
    if (key == "dbName") {
      if (!value.is_string() || (value != "" && value != "default"))
        Fail(kMilvusDatabaseNotFound,
             "database " + value.dump() + " not found: imgsearch has one database, \"default\"");
    } else if ((key == "partitionName" || key == "partitionNames") && !is_accepted(key)) {
      if (!IsDefaultPartition(value))
        Fail(kMilvusParameterInvalid,
             "this request does not take partitions other than \"_default\" (" + key + ")");
    } else if (key == "consistencyLevel") {
      // Every read sees every acknowledged write, which satisfies all of Milvus's levels.
      static const std::set<std::string> levels = {"Strong", "Session", "Bounded", "Eventually",
                                                   "Customized"};
      if (!value.is_string() || levels.count(value.get<std::string>()) == 0)
        Fail(kMilvusParameterInvalid, "consistencyLevel " + value.dump() + " is not a level");
    } else if (!is_accepted(key) && UnsupportedParameter(key)) {
      Fail(kMilvusParameterInvalid,
           "parameter \"" + key + "\" is not supported by imgsearch for this request");
    }
    // Any other key is ignored, as Milvus ignores keys it does not know (clients send
    // primaryField, vectorField, ...).
  }
}

std::string MilvusApi::Context::RequiredString(const char* key) const {
  if (!body.contains(key))
    Fail(kMilvusMissingRequiredParameters, std::string("missing required parameter ") + key);
  if (!body[key].is_string() || body[key].get<std::string>().empty())
    Fail(kMilvusIncorrectParameterFormat, std::string(key) + " must be a non-empty string");
  return body[key].get<std::string>();
}

const json* MilvusApi::Context::Given(const char* key) const {
  auto it = body.find(key);
  return it == body.end() || it->is_null() ? nullptr : &*it;
}

std::string MilvusApi::Context::String(const char* key, const std::string& fallback) const {
  const json* v = Given(key);
  if (v == nullptr) return fallback;
  if (!v->is_string())
    Fail(kMilvusIncorrectParameterFormat, std::string(key) + " must be a string");
  return v->get<std::string>();
}

int64_t MilvusApi::Context::Int(const char* key, int64_t fallback) const {
  const json* v = Given(key);
  if (v == nullptr) return fallback;
  // Milvus also takes numbers written as strings ("dimension": "128").
  if (std::optional<int64_t> number = IntegerOf(*v)) return *number;
  Fail(kMilvusIncorrectParameterFormat, std::string(key) + " must be an integer, got " + v->dump());
}

bool MilvusApi::Context::Bool(const char* key, bool fallback) const {
  const json* v = Given(key);
  if (v == nullptr) return fallback;
  if (v->is_boolean()) return v->get<bool>();
  // Milvus also reads booleans written as text, with Go's strconv.ParseBool.
  static const std::set<std::string> kTrue = {"1", "t", "T", "TRUE", "true", "True"};
  static const std::set<std::string> kFalse = {"0", "f", "F", "FALSE", "false", "False"};
  if (v->is_string() && kTrue.count(v->get<std::string>())) return true;
  if (v->is_string() && kFalse.count(v->get<std::string>())) return false;
  Fail(kMilvusIncorrectParameterFormat, std::string(key) + " must be true or false");
}

std::vector<std::string> MilvusApi::Context::Strings(const char* key) const {
  const json* v = Given(key);
  if (v == nullptr) return {};
  const std::string problem = std::string(key) + " must be an array of strings";
  if (!v->is_array()) Fail(kMilvusIncorrectParameterFormat, problem);
  std::vector<std::string> out;
  for (const json& s : *v) {
    if (!s.is_string()) Fail(kMilvusIncorrectParameterFormat, problem);
    out.push_back(s.get<std::string>());
  }
  return out;
}

const json& MilvusApi::Context::Object(const char* key) const {
  static const json empty = json::object();
  const json* v = Given(key);
  if (v == nullptr) return empty;
  if (!v->is_object())
    Fail(kMilvusIncorrectParameterFormat, std::string(key) + " must be a JSON object");
  return *v;
}

std::shared_ptr<Collection> MilvusApi::Context::NamedCollection() const {
  std::string name = RequiredString("collectionName");
  // Names starting with $ are the dialect's hidden companions (milvus_vectors.cc).
  auto collection = name[0] == '$' ? Result<std::shared_ptr<Collection>>(Status::NotFound(name))
                                   : api->db_.GetCollection(name);
  if (!collection.ok()) {
    if (std::optional<std::string> target = AliasTarget(api->db_, name))
      collection = api->db_.GetCollection(*target);
  }
  if (!collection.ok())
    Fail(kMilvusCollectionNotFound, "collection not found[collection=" + name + "]");
  return *collection;
}

std::shared_ptr<Collection> MilvusApi::Context::LoadedCollection() const {
  std::shared_ptr<Collection> collection = NamedCollection();
  if (MilvusHandlers::IsReleased(*api, collection->schema().name))
    Fail(kMilvusCollectionNotLoaded,
         "collection not loaded[collection=" + collection->schema().name + "]");
  return collection;
}

json MilvusApi::Context::Int64Json(int64_t v) const {
  return int64_as_string ? json(std::to_string(v)) : json(v);
}

}  // namespace imgsearch::server
