// partitions/{create, list, has, drop, load, release, get_stats}, and partitions in reads
// and writes.
//
// A partition is a value of the hidden, indexed VarChar field "$partition", which every
// collection this dialect creates carries; a read confined to partitions is a filter on
// it (answered from the field's hash index). The partition names, including those of
// empty partitions, are a database setting, so that every process serving the library
// sees the same ones. Collections made elsewhere (by imgsearch index) have only
// "_default".
#include <algorithm>

#include "server/milvus_request.h"
#include "store/filter.h"

namespace imgsearch::server {

using json = nlohmann::json;
using Context = MilvusApi::Context;

namespace {

constexpr size_t kMaxPartitions = 1024;  // Milvus's default rootCoord.maxPartitionNum

std::string SettingKey(const std::string& collection) {
  return kCollectionSettings[0] + collection;
}

// The setting's JSON: an array of the partitions created, or under a partition key
// {"partition_key": FIELD, "partitions": N}; null when there is none.
json PartitionSetting(const Database& db, const std::string& collection) {
  std::optional<std::string> text = ValueOrFail(db.GetSetting(SettingKey(collection)));
  if (!text || text->empty()) return nullptr;
  json setting = json::parse(*text, nullptr, false);
  if (!setting.is_array() && !setting.is_object())
    Fail(kMilvusUnexpected, "the partition list of the library is damaged");
  return setting;
}

// The partition key a setting holds (an object), or nothing (a list of partitions).
std::optional<PartitionKey> KeyOfSetting(const json& setting) {
  if (!setting.is_object()) return std::nullopt;
  PartitionKey key;
  key.field = setting.value("partition_key", "");
  key.partitions = setting.value("partitions", int64_t(0));
  if (key.field.empty() || key.partitions < 1 || key.partitions > int64_t(kMaxPartitions))
    Fail(kMilvusUnexpected, "the partition key setting of the library is damaged");
  return key;
}

// "_default" and the partitions created, in order of creation; under a partition key
// the names Milvus gives its partitions ("_default_0", ...).
std::vector<std::string> PartitionNames(const Database& db, const Collection& collection) {
  std::vector<std::string> names = {kDefaultPartition};
  if (!ViewOf(collection.schema()).partitioned) return names;
  json list = PartitionSetting(db, collection.schema().name);
  if (std::optional<PartitionKey> key = KeyOfSetting(list)) {
    names.clear();
    for (int64_t i = 0; i < key->partitions; ++i) names.push_back("_default_" + std::to_string(i));
    return names;
  }
  if (list.is_null()) return names;
  for (const json& name : list) {
    if (name.is_string()) names.push_back(name.get<std::string>());
  }
  return names;
}

// Replaces the created partitions (all but "_default") by what `change` makes of them,
// atomically across processes.
void ChangePartitions(const Context& c, const std::string& collection,
                      const std::function<void(std::vector<std::string>&)>& change) {
  // `change` may refuse (throw); the throw waits until the transaction has rolled back.
  std::optional<MilvusFailure> refused;
  Status status = c.db().Transact([&](Transaction& txn) -> Status {
    IMGSEARCH_ASSIGN_OR_RETURN(std::optional<std::string> text,
                               txn.GetSetting(SettingKey(collection)));
    std::vector<std::string> names;
    json list = text && !text->empty() ? json::parse(*text, nullptr, false) : json::array();
    if (list.is_array()) {
      for (const json& name : list) {
        if (name.is_string()) names.push_back(name.get<std::string>());
      }
    }
    try {
      change(names);
    } catch (const MilvusFailure& failure) {
      refused = failure;
      return Status::InvalidArgument(failure.message);
    }
    return txn.PutSetting(SettingKey(collection), json(names).dump());
  });
  if (refused) throw *refused;
  FailIfError(status);
}

bool Contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

[[noreturn]] void PartitionNotFound(const std::string& name) {
  Fail(kMilvusPartitionNotFound, "partition not found[partition=" + name + "]");
}

std::string InList(const std::vector<std::string>& names) {
  std::string out = std::string(kPartitionField) + " in [";
  for (size_t i = 0; i < names.size(); ++i)
    out += (i > 0 ? ", " : "") + store::QuoteFilterLiteral(names[i]);
  return out + "]";
}

// The partition a partitions/* request names, checked to exist.
std::string NamedPartition(const Context& c, const Collection& collection) {
  std::string name = c.RequiredString("partitionName");
  if (!Contains(PartitionNames(c.db(), collection), name)) PartitionNotFound(name);
  return name;
}

void CheckPartitionName(const std::string& name) {
  bool valid = !name.empty() && name.size() <= 255 && !std::isdigit((unsigned char)name[0]);
  for (char ch : name) valid = valid && (std::isalnum((unsigned char)ch) || ch == '_');
  if (!valid) {
    Fail(kMilvusParameterInvalid, "invalid partition name \"" + name +
                                      "\": use 1-255 letters, digits or underscores, not "
                                      "starting with a digit");
  }
}

// Milvus's answer to naming partitions of a collection with a partition key.
void RefuseUnderPartitionKey(const Context& c, const std::string& collection, const char* what) {
  if (PartitionKeyOf(c.db(), collection)) {
    Fail(kMilvusParameterInvalid, std::string(what) + " if partition key mode is used");
  }
}

}  // namespace

std::optional<PartitionKey> PartitionKeyOf(const Database& db, const std::string& collection) {
  return KeyOfSetting(PartitionSetting(db, collection));
}

void SetPartitionKey(Context& c, const std::string& collection, const PartitionKey& key) {
  json setting = {{"partition_key", key.field}, {"partitions", key.partitions}};
  FailIfError(c.db().Transact(
      [&](Transaction& txn) { return txn.PutSetting(SettingKey(collection), setting.dump()); }));
}

std::vector<std::string> RequestedPartitions(const Context& c) {
  std::vector<std::string> names = c.Strings("partitionNames");
  std::string one = c.String("partitionName");
  if (!one.empty()) names.push_back(one);
  return names;
}

std::string WritePartition(const Context& c, const Collection& collection) {
  std::string name = c.String("partitionName", kDefaultPartition);
  if (name.empty()) name = kDefaultPartition;
  if (PartitionKeyOf(c.db(), collection.schema().name)) {
    // Every row of a partition-key collection is kept in "_default"; the key field
    // itself is what a filter narrows reads by.
    if (name != kDefaultPartition)
      RefuseUnderPartitionKey(c, collection.schema().name,
                              "not support manually specifying the partition names");
    return kDefaultPartition;
  }
  if (!Contains(PartitionNames(c.db(), collection), name)) PartitionNotFound(name);
  return name;
}

std::string PartitionFilter(const Context& c, const Collection& collection,
                            const std::vector<std::string>& partitions, bool for_read) {
  if (!partitions.empty()) {
    RefuseUnderPartitionKey(c, collection.schema().name,
                            "not support manually specifying the partition names");
  }
  std::vector<std::string> names = PartitionNames(c.db(), collection);
  std::set<std::string> released;
  if (for_read) released = MilvusHandlers::ReleasedPartitions(*c.api, collection.schema().name);
  for (const std::string& p : partitions) {
    if (!Contains(names, p)) PartitionNotFound(p);
    if (released.count(p))
      Fail(kMilvusPartitionNotLoaded, "partition not loaded[partition=" + p + "]");
  }
  if (!ViewOf(collection.schema()).partitioned) return "";
  std::vector<std::string> wanted;
  if (partitions.empty()) {
    if (released.empty()) return "";
    for (const std::string& p : names) {
      if (!released.count(p)) wanted.push_back(p);
    }
  } else {
    std::set<std::string> unique(partitions.begin(), partitions.end());
    if (unique.size() == names.size()) return "";  // every partition
    wanted.assign(unique.begin(), unique.end());
  }
  return InList(wanted);
}

void DropCatalogue(Context& c, const std::string& collection) {
  FailIfError(c.db().Transact([&](Transaction& txn) -> Status {
    for (const std::string& prefix : kCollectionSettings)
      IMGSEARCH_RETURN_IF_ERROR(txn.PutSetting(prefix + collection, ""));
    return Status::Ok();
  }));
}

json MilvusHandlers::CreatePartition(Context& c, MilvusReply&) {
  c.AcceptOnly({"collectionName", "partitionName"});
  std::shared_ptr<Collection> collection = c.NamedCollection();
  std::string name = c.RequiredString("partitionName");
  CheckPartitionName(name);
  RefuseUnderPartitionKey(c, collection->schema().name, "disable create partition");
  if (!ViewOf(collection->schema()).partitioned) {
    Fail(kMilvusParameterInvalid, "collection \"" + collection->schema().name +
                                      "\" was not created through the Milvus API and has only "
                                      "the _default partition");
  }
  if (name == kDefaultPartition) return json::object();
  ChangePartitions(c, collection->schema().name, [&](std::vector<std::string>& names) {
    if (Contains(names, name)) return;  // as Milvus: creating one that exists succeeds
    if (names.size() + 1 >= kMaxPartitions)
      Fail(kMilvusParameterInvalid, "a collection has at most 1024 partitions");
    names.push_back(name);
  });
  return json::object();
}

json MilvusHandlers::ListPartitions(Context& c, MilvusReply&) {
  c.AcceptOnly({"collectionName"});
  return PartitionNames(c.db(), *c.NamedCollection());
}

json MilvusHandlers::HasPartition(Context& c, MilvusReply&) {
  c.AcceptOnly({"collectionName", "partitionName"});
  std::shared_ptr<Collection> collection = c.NamedCollection();
  return {
      {"has", Contains(PartitionNames(c.db(), *collection), c.RequiredString("partitionName"))}};
}

json MilvusHandlers::DropPartition(Context& c, MilvusReply&) {
  c.AcceptOnly({"collectionName", "partitionName"});
  std::shared_ptr<Collection> collection = c.NamedCollection();
  const std::string& collection_name = collection->schema().name;
  std::string name = c.RequiredString("partitionName");
  RefuseUnderPartitionKey(c, collection_name, "disable drop partition");
  if (name == kDefaultPartition)
    Fail(kMilvusParameterInvalid, "default partition cannot be deleted");
  if (!Contains(PartitionNames(c.db(), *collection), name)) return json::object();
  // As Milvus: a loaded partition is not dropped from under its searches.
  if (!IsReleased(*c.api, collection_name) &&
      !ReleasedPartitions(*c.api, collection_name).count(name)) {
    Fail(kMilvusParameterInvalid,
         "partition cannot be dropped, partition is loaded, please release it first");
  }
  DeleteRows(c, collection,
             std::string(kPartitionField) + " == " + store::QuoteFilterLiteral(name));
  ChangePartitions(c, collection_name, [&](std::vector<std::string>& names) {
    names.erase(std::remove(names.begin(), names.end(), name), names.end());
  });
  SetPartitionsReleased(*c.api, collection_name, {name}, false);
  return json::object();
}

namespace {

// The request of partitions/load and partitions/release: the collection, its partitions,
// and the ones named (each must exist).
struct PartitionRequest {
  std::string collection_name;
  std::vector<std::string> names;
  std::vector<std::string> wanted;
};

PartitionRequest ReadPartitionRequest(Context& c) {
  c.AcceptOnly({"collectionName", "partitionNames"});
  std::shared_ptr<Collection> collection = c.NamedCollection();
  RefuseUnderPartitionKey(c, collection->schema().name, "disable load or release partitions");
  PartitionRequest request{collection->schema().name, PartitionNames(c.db(), *collection),
                           c.Strings("partitionNames")};
  if (request.wanted.empty())
    Fail(kMilvusMissingRequiredParameters, "missing required partitionNames");
  for (const std::string& p : request.wanted) {
    if (!Contains(request.names, p)) PartitionNotFound(p);
  }
  return request;
}

}  // namespace

json MilvusHandlers::LoadPartitions(Context& c, MilvusReply&) {
  auto [collection_name, names, wanted] = ReadPartitionRequest(c);
  if (IsReleased(*c.api, collection_name)) {
    // A released collection loads just these partitions.
    SetReleased(*c.api, collection_name, false);
    SetPartitionsReleased(*c.api, collection_name, names, true);
  }
  SetPartitionsReleased(*c.api, collection_name, wanted, false);
  return json::object();
}

json MilvusHandlers::ReleasePartitions(Context& c, MilvusReply&) {
  auto [collection_name, names, wanted] = ReadPartitionRequest(c);
  if (IsReleased(*c.api, collection_name)) return json::object();
  SetPartitionsReleased(*c.api, collection_name, wanted, true);
  // With every partition released the collection is released.
  if (ReleasedPartitions(*c.api, collection_name).size() == names.size())
    SetReleased(*c.api, collection_name, true);
  return json::object();
}

json MilvusHandlers::PartitionStats(Context& c, MilvusReply&) {
  c.AcceptOnly({"collectionName", "partitionName"});
  std::shared_ptr<Collection> collection = c.NamedCollection();
  std::string name = NamedPartition(c, *collection);
  if (!ViewOf(collection->schema()).partitioned) return {{"rowCount", collection->Count()}};
  // imgsearch does not hash rows into the partitions of a partition key: only the
  // collection's count is known.
  RefuseUnderPartitionKey(c, collection->schema().name,
                          "imgsearch keeps no per-partition statistics");
  QueryRequest request;
  request.filter = std::string(kPartitionField) + " == " + store::QuoteFilterLiteral(name);
  return {{"rowCount", ValueOrFail(collection->Query(request)).size()}};
}

}  // namespace imgsearch::server
