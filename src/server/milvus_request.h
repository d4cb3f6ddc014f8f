// Internal to the Milvus dialect: reading a request body with Milvus's names and checks,
// and converting rows between Milvus JSON and imgsearch rows. A problem with a request
// throws MilvusFailure, which MilvusApi::Call turns into the reply; it never leaves Call.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "server/milvus_api.h"

namespace imgsearch::server {

struct MilvusFailure {
  int code;
  std::string message;
};

[[noreturn]] void Fail(int code, const std::string& message);
// Status -> Milvus code: not found 100 (collections are what is looked up), invalid or
// unsupported input 1100, anything else 65535.
void FailIfError(const Status& status);

template <typename T>
T ValueOrFail(Result<T>&& result) {
  FailIfError(result.status());
  return std::move(result).value();
}

struct MilvusApi::Context {
  MilvusApi* api;
  nlohmann::json body;
  bool int64_as_string = false;

  // Fails on any key outside `accepted` (plus dbName, partitionName(s) and
  // consistencyLevel, checked to hold values imgsearch can honour).
  void AcceptOnly(std::set<std::string> accepted) const;

  // The value of `key`, or nullptr when it is absent or null.
  const nlohmann::json* Given(const char* key) const;
  std::string RequiredString(const char* key) const;
  std::string String(const char* key, const std::string& fallback = "") const;
  int64_t Int(const char* key, int64_t fallback) const;
  bool Bool(const char* key, bool fallback) const;
  std::vector<std::string> Strings(const char* key) const;
  const nlohmann::json& Object(const char* key) const;  // {} when absent

  // The collection named by "collectionName"; code 100 when there is none.
  std::shared_ptr<Collection> NamedCollection() const;
  // As NamedCollection, and also refused (code 101) while released.
  std::shared_ptr<Collection> LoadedCollection() const;

  nlohmann::json Int64Json(int64_t v) const;
};

// An integer, or a decimal string of one ("128", "-5"): Milvus clients send both (ids to
// and from JavaScript, parameters from form fields). Nothing for anything else.
std::optional<int64_t> IntegerOf(const nlohmann::json& v);

// One Milvus row object -> a Row of `schema` (the primary key read unless auto_id).
Row RowFromMilvus(const CollectionSchema& schema, const nlohmann::json& object, size_t index,
                  bool with_primary);
// A Row -> a Milvus row object: the primary key, the fields present, and the vector when
// read (float vectors as numbers, binary vectors as base64 as Go encodes bytes).
nlohmann::json RowToMilvus(const CollectionSchema& schema, const Row& row,
                           const MilvusApi::Context& context);
// Query vectors: float arrays, or binary vectors given as byte arrays or base64.
void ReadQueryVectors(const CollectionSchema& schema, const nlohmann::json& data,
                      SearchRequest* request);
// Milvus's "outputFields": "*" stays "*"; absent means every scalar field.
std::vector<std::string> OutputFields(const CollectionSchema& schema,
                                      const MilvusApi::Context& context);

// The route handlers, by group (milvus_collections.cc, milvus_entities.cc,
// milvus_indexes.cc).
struct MilvusHandlers {
  using Handler = nlohmann::json (*)(MilvusApi::Context&, MilvusReply&);
  static Handler Find(const std::string& route);

  static nlohmann::json CreateCollection(MilvusApi::Context&, MilvusReply&);
  static nlohmann::json DescribeCollection(MilvusApi::Context&, MilvusReply&);
  static nlohmann::json ListCollections(MilvusApi::Context&, MilvusReply&);
  static nlohmann::json HasCollection(MilvusApi::Context&, MilvusReply&);
  static nlohmann::json DropCollection(MilvusApi::Context&, MilvusReply&);
  static nlohmann::json CollectionStats(MilvusApi::Context&, MilvusReply&);
  static nlohmann::json LoadCollection(MilvusApi::Context&, MilvusReply&);
  static nlohmann::json ReleaseCollection(MilvusApi::Context&, MilvusReply&);
  static nlohmann::json LoadState(MilvusApi::Context&, MilvusReply&);

  static nlohmann::json Insert(MilvusApi::Context&, MilvusReply&);
  static nlohmann::json Upsert(MilvusApi::Context&, MilvusReply&);
  static nlohmann::json Delete(MilvusApi::Context&, MilvusReply&);
  static nlohmann::json Get(MilvusApi::Context&, MilvusReply&);
  static nlohmann::json Query(MilvusApi::Context&, MilvusReply&);
  static nlohmann::json Search(MilvusApi::Context&, MilvusReply&);

  static nlohmann::json CreateIndex(MilvusApi::Context&, MilvusReply&);
  static nlohmann::json DescribeIndex(MilvusApi::Context&, MilvusReply&);
  static nlohmann::json ListIndexes(MilvusApi::Context&, MilvusReply&);
  static nlohmann::json DropIndex(MilvusApi::Context&, MilvusReply&);

  // Released-set access for load/release and for LoadedCollection.
  static bool IsReleased(MilvusApi& api, const std::string& name);
  static void SetReleased(MilvusApi& api, const std::string& name, bool released);
};

// Index parameters in Milvus's form ({fieldName, indexName, metricType, indexType,
// params}) -> an IndexSpec for `schema`'s vector field.
IndexSpec IndexFromMilvus(const nlohmann::json& param, const CollectionSchema& schema);
std::string DefaultMetric(bool binary);

// The name Milvus clients see for a collection's index: its own, or the vector field's.
std::string IndexName(const Collection& collection);
// Whether the collection has an index in Milvus's sense (FLAT with no name: none).
bool HasIndex(const Collection& collection);

}  // namespace imgsearch::server
