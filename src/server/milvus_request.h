// Internal to the Milvus dialect: reading a request body with Milvus's names and checks,
// and converting rows between Milvus JSON and imgsearch rows. A problem with a request
// throws MilvusFailure, which MilvusApi::Call turns into the reply; it never leaves Call.
#pragma once

#include <initializer_list>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "server/milvus_api.h"

namespace imgsearch::server {

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
  MilvusBinary binary;  // the transport's vectors in binary, and its wish for binary hits

  // The binary column of vector field `field` for `rows` rows, or null when the rows
  // carry that field themselves. Code 1804 when the column does not hold `rows` vectors
  // of the field's dimension.
  const MilvusVectorColumn* VectorColumn(const CollectionSchema& schema, size_t rows) const;

  // Fails on any key outside `accepted` (plus dbName, partitionName(s) and
  // consistencyLevel, checked to hold values imgsearch can honour).
  void AcceptOnly(std::initializer_list<std::string_view> accepted) const;

  // The value of `key`, or nullptr when it is absent or null.
  const nlohmann::json* Given(const char* key) const;
  std::string RequiredString(const char* key) const;
  std::string String(const char* key, const std::string& fallback = "") const;
  int64_t Int(const char* key, int64_t fallback) const;
  bool Bool(const char* key, bool fallback) const;
  std::vector<std::string> Strings(const char* key) const;
  const nlohmann::json& Object(const char* key) const;  // {} when absent

  // The collection named by "collectionName" (a collection or an alias of one); code 100
  // when there is none.
  std::shared_ptr<Collection> NamedCollection() const;
  // As NamedCollection, and also refused (code 101) while released.
  std::shared_ptr<Collection> LoadedCollection() const;

  nlohmann::json Int64Json(int64_t v) const;
  Database& db() const { return api->db_; }
};

// The hidden store fields behind Milvus's concepts (see milvus_api.h).
inline constexpr const char* kPartitionField = "$partition";
inline constexpr const char* kHiddenIdField = "$id";  // the store's id under a VarChar key
inline constexpr const char* kDefaultPartition = "_default";

// A store schema as Milvus clients see it.
struct MilvusView {
  const CollectionSchema* schema;
  std::string primary_field;  // the name clients use
  bool varchar_key = false;   // the key is the VarChar field `primary_field`
  int key_max_length = 0;
  bool dynamic = false;      // has "$meta"
  bool partitioned = false;  // has "$partition"
};
MilvusView ViewOf(const CollectionSchema& schema);

// Which keys of "$meta" a read returns, flattened into the row as Milvus does.
struct DynamicOutput {
  bool all = false;
  std::set<std::string> keys;
};

// Milvus's "outputFields" as the store's: "*" stays "*"; absent means every scalar field;
// names outside the schema become "$meta" (for dynamic collections) and are returned in
// `dynamic`. "count(*)" is not handled here.
std::vector<std::string> StoreOutputFields(const MilvusView& view, const MilvusApi::Context& c,
                                           const nlohmann::json* requested, DynamicOutput* dynamic);

// `a and b` where both may be empty; each side stays one group. A side whose
// parentheses do not balance is refused, so that it cannot reach into the other.
std::string AndFilters(const std::string& a, const std::string& b);

// The filter that confines a read or write to `partitions` (empty: every loaded
// partition); "" when no restriction is needed. Unknown partitions: code 200; released
// ones named explicitly: code 201.
std::string PartitionFilter(const MilvusApi::Context& c, const Collection& collection,
                            const std::vector<std::string>& partitions, bool for_read);
// The partition names a request gives: "partitionNames" (array) or "partitionName".
std::vector<std::string> RequestedPartitions(const MilvusApi::Context& c);
// The one partition a write goes to ("_default" unless named); code 200 if unknown.
std::string WritePartition(const MilvusApi::Context& c, const Collection& collection);
// A collection's partition key (set at creation; Milvus's partitions then are
// "_default_0" .. "_default_{partitions-1}" and cannot be named in reads and writes).
struct PartitionKey {
  std::string field;
  int64_t partitions = 16;  // Milvus's default num_partitions
};
std::optional<PartitionKey> PartitionKeyOf(const Database& db, const std::string& collection);
void SetPartitionKey(MilvusApi::Context& c, const std::string& collection, const PartitionKey& key);
// The prefixes of the dialect's settings kept per collection (name appended): the
// partitions (milvus_partitions.cc) and the companions' vector fields
// (milvus_vectors.cc).
inline const std::string kCollectionSettings[] = {"milvus.partitions/", "milvus.vectors/"};
// Forgets the dialect's settings for a dropped collection, or moves them on a rename.
void DropCatalogue(MilvusApi::Context& c, const std::string& collection);
void RenameCatalogue(MilvusApi::Context& c, const std::string& from, const std::string& to);
// The aliases that point at `collection`.
std::vector<std::string> AliasesOf(const Database& db, const std::string& collection);
// The collection an alias points at, if `name` is an alias.
std::optional<std::string> AliasTarget(const Database& db, const std::string& name);

// An integer, or a decimal string of one ("128", "-5"): Milvus clients send both (ids to
// and from JavaScript, parameters from form fields). Nothing for anything else.
std::optional<int64_t> IntegerOf(const nlohmann::json& v);

// One Milvus row object -> a Row of the view's schema (the primary key read unless
// auto_id; keys outside the schema into "$meta" when dynamic; "$partition" set). With
// `vectors`, the row's vector is row `index` of that column, and the object has none.
Row RowFromMilvus(const MilvusView& view, const nlohmann::json& object, size_t index,
                  bool with_primary, const std::string& partition,
                  const MilvusVectorColumn* vectors = nullptr);
// A Row -> a Milvus row object: the primary key, the fields present (JSON fields as JSON
// text, the dynamic keys asked for flattened in), and the vector when read (float
// vectors as numbers, binary vectors as base64 as Go encodes bytes).
nlohmann::json RowToMilvus(const MilvusView& view, const Row& row,
                           const MilvusApi::Context& context, const DynamicOutput& dynamic);
// The primary key of a row as clients see it (Int64, as a string if asked, or VarChar).
nlohmann::json PrimaryKeyJson(const MilvusView& view, const Row& row,
                              const MilvusApi::Context& context);
// One row's value of `schema`'s vector field into `row` (float vectors as numbers, binary
// ones as byte values or base64); `where` starts the messages. And back: float vectors
// as numbers, binary vectors as base64 as Go encodes bytes.
void ReadRowVector(const CollectionSchema& schema, const nlohmann::json& value,
                   const std::string& where, Row* row);
// Row `index`'s vector from a binary column that VectorColumn checked.
void ReadRowVector(const MilvusVectorColumn& column, size_t index, Row* row);
nlohmann::json VectorJson(const CollectionSchema& schema, const Row& row);

// Several vector fields (milvus_vectors.cc): the first lives in the collection, each
// further one in a hidden companion collection with the same rows.
std::string CompanionName(const std::string& collection, const std::string& field);
// The companions' vector fields, in schema order (a setting; empty for one field).
std::vector<std::string> CompanionFields(const Database& db, const std::string& collection);
Status SetCompanionFields(Transaction& txn, const std::string& collection,
                          const std::vector<std::string>& fields);
// Whether `name` is a companion some collection counts as its own (else it is left over
// from a create cut short, and may go).
bool IsCompanion(const Database& db, const std::string& name);
// The collection and its companions, in schema order.
std::vector<std::shared_ptr<Collection>> VectorCollections(const MilvusApi::Context& c,
                                                           const std::shared_ptr<Collection>& main);
// The one of `all` that holds vector field `field`; "" names the only one (with several,
// an error as in Milvus). Code 1100 for a field that is not a vector field.
std::shared_ptr<Collection> VectorCollection(const std::vector<std::shared_ptr<Collection>>& all,
                                             const std::string& field);
// A companion's rows of one write: the vectors, taken out of the request's row objects
// by TakeCompanionVectors (ids and fields are the collection's rows').
struct CompanionRows {
  std::shared_ptr<Collection> collection;
  std::vector<Row> rows;
};
// With the context's binary columns, the vectors come from those instead.
std::vector<CompanionRows> TakeCompanionVectors(const MilvusApi::Context& c,
                                                const std::vector<std::shared_ptr<Collection>>& all,
                                                nlohmann::json* data);
// Inside a write transaction: the companions' rows, with the rows' ids and fields.
Status WriteCompanions(Transaction& txn, std::vector<CompanionRows>& companions,
                       const std::vector<nlohmann::json>& fields, const std::vector<int64_t>& ids,
                       bool upsert);
// Inserts (or upserts) rows into `main` and its companions in one transaction; the ids.
std::vector<int64_t> WriteWithCompanions(const MilvusApi::Context& c, Collection& main,
                                         std::vector<Row> rows,
                                         std::vector<CompanionRows>& companions, bool upsert);
// Deletes the rows matching `filter` from `main` and its companions; how many.
int64_t DeleteRows(const MilvusApi::Context& c, const std::shared_ptr<Collection>& main,
                   const std::string& filter);
// Output fields naming vector fields of `all` other than `searched`: taken out of
// `requested`, and the collections holding them returned, for AddVectors to fill in.
std::vector<std::shared_ptr<Collection>> TakeVectorOutputs(
    const std::vector<std::shared_ptr<Collection>>& all, const std::string& searched,
    nlohmann::json* requested);
// Sets each object's vectors from `sources`, objects[i] being the row with id ids[i].
void AddVectors(const std::vector<std::shared_ptr<Collection>>& sources,
                const std::vector<int64_t>& ids, nlohmann::json* objects);

// Query vectors: float arrays, or binary vectors given as byte arrays or base64.
void ReadQueryVectors(const CollectionSchema& schema, const nlohmann::json& data,
                      SearchRequest* request);
// The same from bytes (a transport's QueryVectors).
void ReadQueryVectors(const CollectionSchema& schema, const QueryVectors& given,
                      SearchRequest* request);

// Reads shared by search and hybrid_search (milvus_entities.cc): one search's request
// from `body` (the request, or one of hybrid_search's "search" entries; its query
// vectors are the transport's queries[query_index] when given, else "data"), and the
// hits in Milvus's form ("id", "distance", output fields and the vectors of `vectors`;
// "topks" in the reply), or in binary form when the transport asked (MilvusBinary::hits).
SearchRequest SearchFromBody(const MilvusApi::Context& c, const nlohmann::json& body,
                             size_t query_index, const Collection& collection,
                             const std::string& partitions, const nlohmann::json* output_fields,
                             DynamicOutput* dynamic);
nlohmann::json SearchHitsJson(const MilvusApi::Context& c, const MilvusView& view,
                              const std::vector<std::vector<Hit>>& results,
                              const DynamicOutput& dynamic, MilvusReply& reply,
                              const std::vector<std::shared_ptr<Collection>>& vectors = {});

// Under a VarChar key (milvus_keys.cc): "id" (one key or an array) as a filter on the
// key field (for Int64 keys too), and writes that keep keys unique: insert refuses keys
// that exist, upsert replaces their rows, each in one transaction (with the companions'
// rows, when given). Returns the keys.
std::string KeyFilter(const MilvusView& view, const nlohmann::json& ids);
nlohmann::json WriteKeyedRows(const MilvusApi::Context& c, Collection& collection,
                              std::vector<Row> rows, bool upsert,
                              std::vector<CompanionRows>* companions = nullptr);

// The route handlers, by group (milvus_collections.cc, milvus_entities.cc,
// milvus_indexes.cc).
struct MilvusHandlers {
  using Handler = nlohmann::json (*)(MilvusApi::Context&, MilvusReply&);
  // The route's handler (null when there is none), and whether the route writes.
  static Handler Find(const std::string& route, bool* writes);

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
  static nlohmann::json HybridSearch(MilvusApi::Context&, MilvusReply&);
  static nlohmann::json RenameCollection(MilvusApi::Context&, MilvusReply&);

  static nlohmann::json CreatePartition(MilvusApi::Context&, MilvusReply&);
  static nlohmann::json ListPartitions(MilvusApi::Context&, MilvusReply&);
  static nlohmann::json HasPartition(MilvusApi::Context&, MilvusReply&);
  static nlohmann::json DropPartition(MilvusApi::Context&, MilvusReply&);
  static nlohmann::json LoadPartitions(MilvusApi::Context&, MilvusReply&);
  static nlohmann::json ReleasePartitions(MilvusApi::Context&, MilvusReply&);
  static nlohmann::json PartitionStats(MilvusApi::Context&, MilvusReply&);

  static nlohmann::json CreateAlias(MilvusApi::Context&, MilvusReply&);
  static nlohmann::json DescribeAlias(MilvusApi::Context&, MilvusReply&);
  static nlohmann::json ListAliases(MilvusApi::Context&, MilvusReply&);
  static nlohmann::json AlterAlias(MilvusApi::Context&, MilvusReply&);
  static nlohmann::json DropAlias(MilvusApi::Context&, MilvusReply&);

  static nlohmann::json Unimplemented(MilvusApi::Context&, MilvusReply&);

  static nlohmann::json CreateIndex(MilvusApi::Context&, MilvusReply&);
  static nlohmann::json DescribeIndex(MilvusApi::Context&, MilvusReply&);
  static nlohmann::json ListIndexes(MilvusApi::Context&, MilvusReply&);
  static nlohmann::json DropIndex(MilvusApi::Context&, MilvusReply&);

  // Released-set access for load/release and for LoadedCollection.
  static bool IsReleased(MilvusApi& api, const std::string& name);
  static void SetReleased(MilvusApi& api, const std::string& name, bool released);
  // Released partitions of a collection; a collection's load/release clears them.
  static std::set<std::string> ReleasedPartitions(MilvusApi& api, const std::string& name);
  static void SetPartitionsReleased(MilvusApi& api, const std::string& name,
                                    const std::vector<std::string>& partitions, bool released);
  // Moves the load state of a renamed collection.
  static void RenameLoadState(MilvusApi& api, const std::string& from, const std::string& to);
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
