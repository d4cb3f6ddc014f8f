// The Milvus REST v2 dialect (/v2/vectordb/...) over a Database, independent of HTTP:
// the server hands each request's route and JSON body to Call and writes the Reply as
// Milvus does: {"code": 0, "data": ...} or {"code": N, "message": "..."}.
//
// Supported: collections/{create, describe, list, has, drop, get_stats, load, release,
// get_load_state}, entities/{insert, upsert, delete, get, query, search},
// indexes/{create, describe, list, drop}. A parameter Milvus knows but imgsearch does not
// support (partitions other than _default, dynamic fields, grouping, other databases,
// VarChar primary keys...) is an error that names it, never silently ignored.
#pragma once

#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "imgsearch/database.h"

namespace imgsearch::server {

// Milvus's error numbers (merr) for the failures this dialect reports.
enum MilvusCode : int {
  kMilvusOk = 0,
  kMilvusCollectionNotFound = 100,
  kMilvusCollectionNotLoaded = 101,
  kMilvusIndexNotFound = 700,
  kMilvusDatabaseNotFound = 800,
  kMilvusParameterInvalid = 1100,
  kMilvusNeedAuthenticate = 1800,
  kMilvusIncorrectParameterFormat = 1801,
  kMilvusMissingRequiredParameters = 1802,
  kMilvusInvalidInsertData = 1804,
  kMilvusCheckPrimaryKey = 1806,
  kMilvusUnexpected = 65535,
};

struct MilvusReply {
  int code = kMilvusOk;
  std::string message;                              // set when code != 0
  nlohmann::json data = nlohmann::json::object();   // set when code == 0
  nlohmann::json extra = nlohmann::json::object();  // further top-level keys ("topks")

  nlohmann::json ToJson() const;
};

struct MilvusRoute {
  std::string name;  // "collections/create", ...
  bool writes;       // needs a token with write scope
};

class MilvusApi {
 public:
  explicit MilvusApi(Database& db) : db_(db) {}

  static const std::vector<MilvusRoute>& Routes();

  // `int64_as_string`: Int64 values (ids among them) as decimal strings, for JavaScript
  // clients (Milvus does this unless "Accept-Type-Allow-Int64: true"; imgsearch returns
  // numbers unless the header says false). Never throws.
  MilvusReply Call(const std::string& route, const std::string& body, bool int64_as_string);

  // One call's request and settings, for the handlers (milvus_request.h).
  struct Context;

 private:
  Database& db_;
  // Collections released by collections/release: searched and queried only after
  // collections/load again, as in Milvus. (Their index stays in memory here.)
  std::mutex released_mutex_;
  std::set<std::string> released_;

  friend struct MilvusHandlers;
};

}  // namespace imgsearch::server
