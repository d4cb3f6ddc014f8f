#include "server/milvus_api.h"

#include <map>

#include "server/milvus_request.h"

namespace imgsearch::server {

using json = nlohmann::json;

void Fail(int code, const std::string& message) {
  throw MilvusFailure{code, message};
}

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

const std::vector<MilvusRoute>& MilvusApi::Routes() {
  static const std::vector<MilvusRoute> routes = {
      {"collections/create", true},
      {"collections/describe", false},
      {"collections/list", false},
      {"collections/has", false},
      {"collections/drop", true},
      {"collections/get_stats", false},
      {"collections/load", true},
      {"collections/release", true},
      {"collections/get_load_state", false},
      {"entities/insert", true},
      {"entities/upsert", true},
      {"entities/delete", true},
      {"entities/get", false},
      {"entities/query", false},
      {"entities/search", false},
      {"indexes/create", true},
      {"indexes/describe", false},
      {"indexes/list", false},
      {"indexes/drop", true},
  };
  return routes;
}

MilvusHandlers::Handler MilvusHandlers::Find(const std::string& route) {
  static const std::map<std::string, Handler> handlers = {
      {"collections/create", &CreateCollection},
      {"collections/describe", &DescribeCollection},
      {"collections/list", &ListCollections},
      {"collections/has", &HasCollection},
      {"collections/drop", &DropCollection},
      {"collections/get_stats", &CollectionStats},
      {"collections/load", &LoadCollection},
      {"collections/release", &ReleaseCollection},
      {"collections/get_load_state", &LoadState},
      {"entities/insert", &Insert},
      {"entities/upsert", &Upsert},
      {"entities/delete", &Delete},
      {"entities/get", &Get},
      {"entities/query", &Query},
      {"entities/search", &Search},
      {"indexes/create", &CreateIndex},
      {"indexes/describe", &DescribeIndex},
      {"indexes/list", &ListIndexes},
      {"indexes/drop", &DropIndex},
  };
  auto it = handlers.find(route);
  return it == handlers.end() ? nullptr : it->second;
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
}

MilvusReply MilvusApi::Call(const std::string& route, const std::string& body,
                            bool int64_as_string) {
  MilvusReply reply;
  Context context{this, json::object(), int64_as_string};
  if (!body.empty()) {
    context.body = json::parse(body, nullptr, false);
    if (context.body.is_discarded() || !context.body.is_object()) {
      reply.code = kMilvusIncorrectParameterFormat;
      reply.message = "the request body must be a JSON object";
      return reply;
    }
  }
  return Dispatch(route, context);
}

MilvusReply MilvusApi::Dispatch(const std::string& route, Context& context) {
  MilvusReply reply;
  MilvusHandlers::Handler handler = MilvusHandlers::Find(route);
  try {
    if (handler == nullptr) Fail(kMilvusParameterInvalid, "imgsearch does not serve " + route);
    reply.data = handler(context, reply);
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

void MilvusApi::Context::AcceptOnly(std::set<std::string> accepted) const {
  for (const auto& [key, value] : body.items()) {
    if (key == "dbName") {
      if (!value.is_string() || (value != "" && value != "default"))
        Fail(kMilvusDatabaseNotFound,
             "database " + value.dump() + " not found: imgsearch has one database, \"default\"");
    } else if (key == "partitionName" || key == "partitionNames") {
      if (!IsDefaultPartition(value))
        Fail(kMilvusParameterInvalid,
             "imgsearch does not support partitions other than \"_default\" (" + key + ")");
    } else if (key == "consistencyLevel") {
      // Every read sees every acknowledged write, which satisfies all of Milvus's levels.
      static const std::set<std::string> levels = {"Strong", "Session", "Bounded", "Eventually",
                                                   "Customized"};
      if (!value.is_string() || levels.count(value.get<std::string>()) == 0)
        Fail(kMilvusParameterInvalid, "consistencyLevel " + value.dump() + " is not a level");
    } else if (accepted.count(key) == 0) {
      Fail(kMilvusParameterInvalid,
           "parameter \"" + key + "\" is not supported by imgsearch for this request");
    }
  }
}

std::string MilvusApi::Context::RequiredString(const char* key) const {
  if (!body.contains(key))
    Fail(kMilvusMissingRequiredParameters, std::string("missing required parameter ") + key);
  if (!body[key].is_string() || body[key].get<std::string>().empty())
    Fail(kMilvusIncorrectParameterFormat, std::string(key) + " must be a non-empty string");
  return body[key].get<std::string>();
}

std::string MilvusApi::Context::String(const char* key, const std::string& fallback) const {
  if (!body.contains(key) || body[key].is_null()) return fallback;
  if (!body[key].is_string())
    Fail(kMilvusIncorrectParameterFormat, std::string(key) + " must be a string");
  return body[key].get<std::string>();
}

int64_t MilvusApi::Context::Int(const char* key, int64_t fallback) const {
  if (!body.contains(key) || body[key].is_null()) return fallback;
  // Milvus also takes numbers written as strings ("dimension": "128").
  if (std::optional<int64_t> v = IntegerOf(body[key])) return *v;
  Fail(kMilvusIncorrectParameterFormat,
       std::string(key) + " must be an integer, got " + body[key].dump());
}

bool MilvusApi::Context::Bool(const char* key, bool fallback) const {
  if (!body.contains(key) || body[key].is_null()) return fallback;
  if (!body[key].is_boolean())
    Fail(kMilvusIncorrectParameterFormat, std::string(key) + " must be true or false");
  return body[key].get<bool>();
}

std::vector<std::string> MilvusApi::Context::Strings(const char* key) const {
  if (!body.contains(key) || body[key].is_null()) return {};
  const json& v = body[key];
  if (!v.is_array())
    Fail(kMilvusIncorrectParameterFormat, std::string(key) + " must be an array of strings");
  std::vector<std::string> out;
  for (const json& s : v) {
    if (!s.is_string())
      Fail(kMilvusIncorrectParameterFormat, std::string(key) + " must be an array of strings");
    out.push_back(s.get<std::string>());
  }
  return out;
}

const json& MilvusApi::Context::Object(const char* key) const {
  static const json empty = json::object();
  if (!body.contains(key) || body[key].is_null()) return empty;
  if (!body[key].is_object())
    Fail(kMilvusIncorrectParameterFormat, std::string(key) + " must be a JSON object");
  return body[key];
}

std::shared_ptr<Collection> MilvusApi::Context::NamedCollection() const {
  std::string name = RequiredString("collectionName");
  auto collection = api->db_.GetCollection(name);
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
