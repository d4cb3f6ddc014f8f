#include "remote/milvus_database.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "base/log.h"
#include "remote/milvus_collection.h"
#include "remote/milvus_rows.h"

namespace imgsearch::remote {
namespace {

using json = nlohmann::json;

constexpr int kMostSettingBytes = 65535;  // Milvus's longest VarChar

CollectionSchema SettingsSchema() {
  CollectionSchema s;
  s.name = kSettingsCollection;
  s.description = "imgsearch: the store's settings (a library's models, fusion weights)";
  s.auto_id = false;
  s.vector_field = "unused";  // Milvus needs a vector field in every collection
  s.vector_type = DataType::kBinaryVector;
  s.dimension = 8;
  s.scalar_fields = {{"key", DataType::kVarChar, false, 512},
                     {"value", DataType::kVarChar, false, kMostSettingBytes}};
  return s;
}

// A setting's row id: a 63-bit hash of its key (the key is stored too, and checked).
int64_t SettingId(const std::string& key) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : key) h = (h ^ c) * 1099511628211ull;
  return static_cast<int64_t>(h >> 1);
}

class MilvusDatabase;

class MilvusTransaction final : public Transaction {
 public:
  explicit MilvusTransaction(MilvusDatabase& db) : db_(db) {}
  Result<std::vector<int64_t>> Insert(const std::string& collection,
                                      std::vector<Row> rows) override;
  Result<std::vector<int64_t>> Upsert(const std::string& collection,
                                      std::vector<Row> rows) override;
  Result<int64_t> Delete(const std::string& collection, const std::vector<int64_t>& ids) override;
  Result<int64_t> TakeIds(const std::string& counter, int64_t, int64_t) override {
    return Status::Unsupported("Milvus has no counters (" + counter +
                               "): derive ids that cannot collide");
  }
  Result<std::optional<std::string>> GetSetting(const std::string& key) override;
  Status PutSetting(const std::string& key, const std::string& value) override;

 private:
  MilvusDatabase& db_;
};

class MilvusDatabase final : public Database {
 public:
  MilvusDatabase(std::shared_ptr<const MilvusClient> client, MilvusOptions options)
      : client_(std::move(client)), options_(std::move(options)) {}

  Status Start(bool create_if_missing);

  Status CreateCollection(const CollectionSchema& schema, const IndexSpec& index) override {
    IMGSEARCH_RETURN_IF_ERROR(ValidateSchema(schema));
    IMGSEARCH_ASSIGN_OR_RETURN(IndexSpec spec, MilvusIndexFor(schema, index, options_));
    json body = {{"collectionName", schema.name},
                 {"schema", SchemaToMilvus(schema)},
                 {"indexParams", json::array({IndexToMilvus(schema, spec)})}};
    if (!schema.description.empty()) body["description"] = schema.description;
    IMGSEARCH_RETURN_IF_ERROR(client_->Call("collections/create", std::move(body)).status());
    return WaitLoaded(schema.name);
  }

  Status DropCollection(const std::string& name) override {
    Forget(name);
    return client_->Call("collections/drop", {{"collectionName", name}}).status();
  }

  Status RenameCollection(const std::string& from, const std::string& to) override {
    Forget(from);
    Forget(to);
    return client_
        ->Call("collections/rename", {{"collectionName", from}, {"newCollectionName", to}})
        .status();
  }

  std::vector<std::string> ListCollections() const override {
    auto answer = client_->Call("collections/list", json::object());
    std::vector<std::string> names;
    if (!answer.ok()) {
      IMGSEARCH_LOG_ERROR("listing the collections: {}", answer.status().message());
      return names;
    }
    for (const json& name : Field(*answer, "data")) {
      if (name.is_string() && name != kSettingsCollection) names.push_back(name.get<std::string>());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  bool HasCollection(const std::string& name) const override {
    if (name == kSettingsCollection) return false;
    auto has = Has(name);
    if (!has.ok()) IMGSEARCH_LOG_ERROR("{}", has.status().message());
    return has.ok() && *has;
  }

  Result<std::shared_ptr<Collection>> GetCollection(const std::string& name) const override {
    if (name == kSettingsCollection)
      return Status::NotFound("collection \"" + name + "\" is imgsearch's own");
    IMGSEARCH_ASSIGN_OR_RETURN(std::shared_ptr<MilvusCollection> c, Described(name));
    return std::shared_ptr<Collection>(std::move(c));
  }

  Status Transact(const std::function<Status(Transaction&)>& body) override {
    MilvusTransaction txn(*this);
    return body(txn);
  }

  Result<std::optional<std::string>> GetSetting(const std::string& key) const override {
    IMGSEARCH_ASSIGN_OR_RETURN(std::vector<Row> rows,
                               settings_->Get({SettingId(key)}, {"key", "value"}));
    if (rows.empty()) return std::optional<std::string>();
    if (TextOf(rows[0].fields, "key") != key)
      return Status::Corruption("settings \"" + key + "\" and \"" + TextOf(rows[0].fields, "key") +
                                "\" share an id");
    return std::optional<std::string>(TextOf(rows[0].fields, "value"));
  }

  Status PutSetting(const std::string& key, const std::string& value) {
    if (value.size() > size_t(kMostSettingBytes))
      return Status::ResourceExhausted("setting \"" + key + "\" is longer than Milvus keeps");
    Row row;
    row.id = SettingId(key);
    row.binary_vector = {0};
    row.fields = {{"key", key}, {"value", value}};
    return settings_->Upsert({row}).status();
  }

  Result<std::shared_ptr<MilvusCollection>> Described(const std::string& name) const;

 private:
  Result<bool> Has(const std::string& name) const {
    IMGSEARCH_ASSIGN_OR_RETURN(json answer,
                               client_->Call("collections/has", {{"collectionName", name}}));
    return FlagOf(Field(answer, "data"), "has", false);
  }

  Status WaitLoaded(const std::string& name) const {
    bool asked = false;
    for (int waited = 0; waited < 600; ++waited) {  // two minutes
      IMGSEARCH_ASSIGN_OR_RETURN(
          json answer, client_->Call("collections/get_load_state", {{"collectionName", name}}));
      std::string state = TextOf(Field(answer, "data"), "loadState");
      if (state == "LoadStateLoaded") return Status::Ok();
      if (state == "LoadStateNotLoad" && !asked) {
        IMGSEARCH_RETURN_IF_ERROR(
            client_->Call("collections/load", {{"collectionName", name}}).status());
        asked = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return Status::IOError(client_->describe() + ": collection " + name + " did not load");
  }

  void Forget(const std::string& name) {
    std::lock_guard<std::mutex> lock(mutex_);
    collections_.erase(name);
  }

  std::shared_ptr<const MilvusClient> client_;
  MilvusOptions options_;
  std::shared_ptr<MilvusCollection> settings_;
  mutable std::mutex mutex_;
  mutable std::map<std::string, std::shared_ptr<MilvusCollection>> collections_;

  friend class MilvusTransaction;
};

Result<std::shared_ptr<MilvusCollection>> MilvusDatabase::Described(const std::string& name) const {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = collections_.find(name);
    if (it != collections_.end()) return it->second;
  }
  IMGSEARCH_ASSIGN_OR_RETURN(json answer,
                             client_->Call("collections/describe", {{"collectionName", name}}));
  const json described = Field(answer, "data");
  IMGSEARCH_ASSIGN_OR_RETURN(CollectionSchema schema, SchemaFromMilvus(described));
  schema.name = name;
  json details;
  IndexSpec index = IndexFromMilvus(schema, described, details);
  if (!index.name.empty()) {
    auto detail =
        client_->Call("indexes/describe", {{"collectionName", name}, {"indexName", index.name}});
    if (detail.ok()) {
      const json data = Field(*detail, "data");
      if (data.is_array() && !data.empty()) details = data[0];
    }
    index = IndexFromMilvus(schema, described, details);
  }
  if (TextOf(described, "load") == "LoadStateNotLoad") IMGSEARCH_RETURN_IF_ERROR(WaitLoaded(name));
  auto collection =
      std::make_shared<MilvusCollection>(client_, std::move(schema), std::move(index));
  std::lock_guard<std::mutex> lock(mutex_);
  return collections_.emplace(name, std::move(collection)).first->second;
}

Status MilvusDatabase::Start(bool create_if_missing) {
  IMGSEARCH_ASSIGN_OR_RETURN(bool has, Has(kSettingsCollection));
  if (!has) {
    if (!create_if_missing)
      return Status::NotFound(client_->describe() + " holds no imgsearch store (no collection " +
                              kSettingsCollection + ")");
    Status created = CreateCollection(SettingsSchema(), {"BIN_FLAT", "HAMMING"});
    if (!created.ok()) {  // another process may have created it meanwhile
      IMGSEARCH_ASSIGN_OR_RETURN(has, Has(kSettingsCollection));
      if (!has) return created;
    }
  }
  IMGSEARCH_ASSIGN_OR_RETURN(settings_, Described(kSettingsCollection));
  return Status::Ok();
}

Result<std::vector<int64_t>> MilvusTransaction::Insert(const std::string& collection,
                                                       std::vector<Row> rows) {
  IMGSEARCH_ASSIGN_OR_RETURN(auto c, db_.GetCollection(collection));
  return c->Insert(std::move(rows));
}

Result<std::vector<int64_t>> MilvusTransaction::Upsert(const std::string& collection,
                                                       std::vector<Row> rows) {
  IMGSEARCH_ASSIGN_OR_RETURN(auto c, db_.GetCollection(collection));
  return c->Upsert(std::move(rows));
}

Result<int64_t> MilvusTransaction::Delete(const std::string& collection,
                                          const std::vector<int64_t>& ids) {
  IMGSEARCH_ASSIGN_OR_RETURN(auto c, db_.GetCollection(collection));
  return c->Delete(ids);
}

Result<std::optional<std::string>> MilvusTransaction::GetSetting(const std::string& key) {
  return db_.GetSetting(key);
}

Status MilvusTransaction::PutSetting(const std::string& key, const std::string& value) {
  return db_.PutSetting(key, value);
}

}  // namespace

Result<IndexSpec> MilvusIndexFor(const CollectionSchema& schema, const IndexSpec& wanted,
                                 const MilvusOptions& options) {
  if (schema.binary() || options.float_index.empty()) return wanted;
  const std::string& type = options.float_index;
  json params = json::object();
  if (type == "HNSW") {
    params = {{"M", 16}, {"efConstruction", 200}};
  } else if (type == "IVF_FLAT" || type == "IVF_SQ8") {
    params = {{"nlist", 1024}};
  } else if (type != "FLAT" && type != "DISKANN" && type != "AUTOINDEX") {
    return Status::InvalidArgument(
        "--milvus-index " + type +
        ": expected HNSW, IVF_FLAT, IVF_SQ8, FLAT, DISKANN or AUTOINDEX");
  }
  return IndexSpec(type, wanted.metric_type, params, wanted.name);
}

Result<std::unique_ptr<Database>> OpenMilvusDatabase(
    const std::string& location, const DatabaseOptions& options,
    std::unique_ptr<MilvusTransport> transport, std::function<void(double)> sleep_for_testing) {
  IMGSEARCH_ASSIGN_OR_RETURN(MilvusEndpoint endpoint, ParseMilvusLocation(location));
  if (!transport) transport = TransportFor(endpoint, options.milvus.request_timeout_seconds);
  std::string describe = endpoint.Describe();
  if (!options.milvus.database.empty()) describe += " (database " + options.milvus.database + ")";
  auto client = std::make_shared<MilvusClient>(std::move(transport), options.milvus, describe);
  if (sleep_for_testing) client->SetSleepForTesting(std::move(sleep_for_testing));
  auto db = std::make_unique<MilvusDatabase>(client, options.milvus);
  IMGSEARCH_RETURN_IF_ERROR(db->Start(options.create_if_missing));
  return std::unique_ptr<Database>(std::move(db));
}

}  // namespace imgsearch::remote
