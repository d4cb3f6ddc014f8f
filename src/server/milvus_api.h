// The Milvus REST v2 dialect (/v2/vectordb/...) over a Database, independent of HTTP:
// the server hands each request's route and JSON body to Call and writes the Reply as
// Milvus does: {"code": 0, "data": ...} or {"code": N, "message": "..."}.
//
// Supported: collections/{create, describe, list, has, drop, rename, get_stats, load,
// release, get_load_state}, partitions/{create, list, has, drop, load, release,
// get_stats}, aliases/{create, describe, list, alter, drop}, entities/{insert, upsert,
// delete, get, query, search, hybrid_search}, indexes/{create, describe, list, drop};
// dynamic fields, VarChar primary keys and count(*). User, role, privilege-group and
// import routes answer code 10 ("service unimplemented"). A parameter Milvus knows but
// imgsearch does not support (grouping, partition keys, other databases...) is an error
// that names it, never silently ignored. doc/http-api.md lists every route.
//
// How Milvus's concepts map onto the store (all kept in the library, so that every
// process serving one library agrees):
// - dynamic fields: a JSON field "$meta" holds the keys outside the schema; the store's
//   filters read unknown names as keys of it, as Milvus does;
// - partitions: a hidden, indexed VarChar field "$partition" on every collection this
//   dialect creates, and the partition names in a database setting;
// - aliases: a database setting (alias -> collection);
// - VarChar primary keys: the store's int64 id becomes a hidden "$id"; the key is an
//   indexed VarChar field that writes keep unique.
#pragma once

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "imgsearch/database.h"
#include "remote/milvus_codes.h"

namespace imgsearch::server {

// A search's hits in binary form (MilvusBinary::hits): the keys and distances of every
// query's hits in order, `topks[q]` of them for query q.
struct MilvusHits {
  std::vector<int64_t> topks;
  std::vector<float> distances;
  std::vector<int64_t> int_ids;      // under an Int64 key
  std::vector<std::string> str_ids;  // under a VarChar key
  std::string primary_field;         // the key's name as clients see it
};

struct MilvusReply {
  int code = kMilvusOk;
  std::string message;                              // set when code != 0
  nlohmann::json data = nlohmann::json::object();   // set when code == 0
  nlohmann::json extra = nlohmann::json::object();  // further top-level keys ("topks")
  std::optional<MilvusHits> hits = std::nullopt;    // searches asked with MilvusBinary::hits

  nlohmann::json ToJson() const;
};

// A vector field's values for every row of a write, in binary form: how the gRPC
// transport hands them over, so that vectors never become JSON values on its path. Row
// i's vector is the `bytes_per_row` bytes at i * bytes_per_row: float32 values, or
// packed bits for binary vectors. The bytes belong to the caller.
struct MilvusVectorColumn {
  std::string_view bytes;
  size_t bytes_per_row = 0;
  bool binary = false;
};
// By field name; a write's rows then leave those fields out.
using MilvusVectorColumns = std::map<std::string, MilvusVectorColumn>;

// A search's query vectors as bytes: how the gRPC transport hands over the values of a
// PlaceholderGroup, so that vectors never become JSON. The dialect checks them against
// the collection as it checks "data".
struct QueryVectors {
  bool binary = false;  // bit-packed bytes; else float32 values (little-endian)
  // Read from JSON numbers with fractions (REST, milvus_json_vectors.h): for a binary
  // collection, not bytes.
  bool from_json = false;
  std::vector<std::string> values;  // one per query vector
};

// What a transport gives the dialect beside the request object, and asks back in binary.
struct MilvusBinary {
  // The query vectors of entities/search (one entry) or of each of hybrid_search's
  // "search" entries, which then carry no "data".
  std::vector<QueryVectors> queries;
  // Searches answer with MilvusReply::hits, and `data` then holds each hit's output
  // fields only (an empty array when none were asked for).
  bool hits = false;
  // A write's vector fields (insert, upsert), whose rows then leave them out.
  MilvusVectorColumns columns;
};

struct MilvusRoute {
  std::string name;  // "collections/create", ...
  bool writes;       // needs a token with write scope
};

class MilvusApi {
 public:
  explicit MilvusApi(Database& db) : db_(db) {}

  static const std::vector<MilvusRoute>& Routes();
  // Milvus routes answered with code 10, "service unimplemented" (users, roles, import).
  static bool Refused(const std::string& route);

  // `int64_as_string`: Int64 values (ids among them) as decimal strings, for JavaScript
  // clients (Milvus does this unless "Accept-Type-Allow-Int64: true"; imgsearch returns
  // numbers unless the header says false). Never throws.
  MilvusReply Call(const std::string& route, const std::string& body, bool int64_as_string);
  // The same with the request already an object: how the gRPC transport calls the
  // dialect, with each request message translated into the route's request object.
  MilvusReply CallObject(const std::string& route, nlohmann::json request, bool int64_as_string,
                         MilvusBinary binary = {});

  // One call's request and settings, for the handlers (milvus_request.h).
  struct Context;

 private:
  Database& db_;
  // Collections released by collections/release: searched and queried only after
  // collections/load again, as in Milvus. (Their index stays in memory here.) Load state
  // is this process's own, as it is each Milvus cluster's.
  std::mutex released_mutex_;
  std::set<std::string> released_;
  // Partitions released by partitions/release, by collection.
  std::map<std::string, std::set<std::string>> released_partitions_;

  friend struct MilvusHandlers;
};

}  // namespace imgsearch::server
