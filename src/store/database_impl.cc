// Database: the catalog of collections in SQLite, and their lifetimes.
#include <filesystem>
#include <map>

#include "base/log.h"
#include "imgsearch/database.h"
#include "index/index_factory.h"
#include "store/collection_impl.h"
#include "store/schema_json.h"

namespace imgsearch {
namespace {

using store::CollectionImpl;
using store::Statement;
using store::Storage;

constexpr const char* kDatabaseMagic = "imgsearch-db";
constexpr const char* kDatabaseVersion = "1";

class DatabaseImpl final : public Database {
 public:
  DatabaseImpl(std::shared_ptr<Storage> storage, DatabaseOptions options)
      : storage_(std::move(storage)), options_(options) {}

  Status Init(bool fresh);
  Status LoadCollections();

  Status CreateCollection(const CollectionSchema& schema, const IndexSpec& index) override;
  Status DropCollection(const std::string& name) override;
  Status RenameCollection(const std::string& from, const std::string& to) override;
  std::vector<std::string> ListCollections() const override;
  bool HasCollection(const std::string& name) const override;
  Result<std::shared_ptr<Collection>> GetCollection(const std::string& name) const override;

 private:
  std::shared_ptr<CollectionImpl> Find(const std::string& name) const {
    std::lock_guard<std::mutex> lock(map_mutex_);
    auto it = collections_.find(name);
    return it == collections_.end() ? nullptr : it->second;
  }

  std::shared_ptr<Storage> storage_;
  DatabaseOptions options_;
  mutable std::mutex map_mutex_;
  std::map<std::string, std::shared_ptr<CollectionImpl>> collections_;
};

Status DatabaseImpl::Init(bool fresh) {
  store::SqliteDb* db = storage_->writer.get();
  IMGSEARCH_RETURN_IF_ERROR(
      db->Exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"));
  IMGSEARCH_RETURN_IF_ERROR(db->Exec(
      "CREATE TABLE IF NOT EXISTS collections (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT "
      "NULL UNIQUE, "
      "schema TEXT NOT NULL, index_spec TEXT NOT NULL, next_auto_id INTEGER NOT NULL DEFAULT 1)"));
  IMGSEARCH_ASSIGN_OR_RETURN(Statement magic,
                             db->Prepare("SELECT value FROM meta WHERE key = 'format'"));
  IMGSEARCH_ASSIGN_OR_RETURN(bool has_magic, magic.Step());
  std::string found = has_magic ? magic.Text(0) : "";
  magic.Reset();
  if (!has_magic) {
    IMGSEARCH_ASSIGN_OR_RETURN(Statement count, db->Prepare("SELECT COUNT(*) FROM collections"));
    IMGSEARCH_ASSIGN_OR_RETURN(bool counted, count.Step());
    if (!fresh && counted && count.Int(0) > 0)
      return Status::Corruption("database has collections but no format record");
    IMGSEARCH_RETURN_IF_ERROR(db->Exec(std::string("INSERT INTO meta VALUES ('format', '") +
                                       kDatabaseMagic + " " + kDatabaseVersion + "')"));
    return Status::Ok();
  }
  if (found != std::string(kDatabaseMagic) + " " + kDatabaseVersion) {
    return Status::Unsupported("database format \"" + found + "\" (this build reads \"" +
                               kDatabaseMagic + " " + kDatabaseVersion + "\")");
  }
  return Status::Ok();
}

Status DatabaseImpl::LoadCollections() {
  IMGSEARCH_ASSIGN_OR_RETURN(
      Statement select,
      storage_->reader->Prepare("SELECT id, schema, index_spec, next_auto_id FROM collections"));
  for (;;) {
    IMGSEARCH_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    auto schema_json = nlohmann::json::parse(select.Text(1), nullptr, false);
    auto index_json = nlohmann::json::parse(select.Text(2), nullptr, false);
    IMGSEARCH_ASSIGN_OR_RETURN(CollectionSchema schema, store::SchemaFromJson(schema_json));
    IMGSEARCH_ASSIGN_OR_RETURN(IndexSpec index, store::IndexSpecFromJson(index_json));
    auto collection = std::make_shared<CollectionImpl>(
        storage_, select.Int(0), schema, index, select.Int(3), options_.snapshot_every_changes);
    IMGSEARCH_RETURN_IF_ERROR(collection->Load().WithContext("collection \"" + schema.name + "\""));
    collections_[schema.name] = std::move(collection);
  }
  return Status::Ok();
}

Status DatabaseImpl::CreateCollection(const CollectionSchema& schema, const IndexSpec& index) {
  IMGSEARCH_RETURN_IF_ERROR(ValidateSchema(schema));
  IMGSEARCH_ASSIGN_OR_RETURN(index::Metric metric, index::ParseMetric(index.metric_type));
  IMGSEARCH_RETURN_IF_ERROR(
      index::ValidateIndexDescription({index.index_type, metric, index.params}, schema.binary(),
                                      schema.dimension)
          .status());
  std::lock_guard<std::mutex> write_lock(storage_->write_mutex);
  if (Find(schema.name) != nullptr)
    return Status::InvalidArgument("collection \"" + schema.name + "\" exists already");
  store::SqliteDb* db = storage_->writer.get();
  store::Transaction txn(db);
  IMGSEARCH_RETURN_IF_ERROR(txn.Begin());
  IMGSEARCH_ASSIGN_OR_RETURN(
      Statement insert,
      db->Prepare("INSERT INTO collections (name, schema, index_spec) VALUES (?, ?, ?)"));
  IMGSEARCH_RETURN_IF_ERROR(insert.Bind(1, schema.name)
                                .Bind(2, store::SchemaToJson(schema).dump())
                                .Bind(3, store::IndexSpecToJson(index).dump())
                                .Run());
  auto collection = std::make_shared<CollectionImpl>(storage_, db->LastInsertId(), schema, index, 1,
                                                     options_.snapshot_every_changes);
  IMGSEARCH_RETURN_IF_ERROR(collection->CreateTable());
  IMGSEARCH_RETURN_IF_ERROR(txn.Commit());
  IMGSEARCH_RETURN_IF_ERROR(collection->Load());
  std::lock_guard<std::mutex> lock(map_mutex_);
  collections_[schema.name] = std::move(collection);
  return Status::Ok();
}

Status DatabaseImpl::DropCollection(const std::string& name) {
  std::lock_guard<std::mutex> write_lock(storage_->write_mutex);
  std::shared_ptr<CollectionImpl> collection = Find(name);
  if (collection == nullptr) return Status::NotFound("collection \"" + name + "\" does not exist");
  store::SqliteDb* db = storage_->writer.get();
  store::Transaction txn(db);
  IMGSEARCH_RETURN_IF_ERROR(txn.Begin());
  IMGSEARCH_ASSIGN_OR_RETURN(Statement remove, db->Prepare("DELETE FROM collections WHERE id = ?"));
  IMGSEARCH_RETURN_IF_ERROR(remove.Bind(1, collection->id()).Run());
  IMGSEARCH_RETURN_IF_ERROR(db->Exec("DROP TABLE IF EXISTS " + collection->table()));
  IMGSEARCH_RETURN_IF_ERROR(db->Exec("DROP TABLE IF EXISTS " + collection->vector_table()));
  IMGSEARCH_RETURN_IF_ERROR(txn.Commit());
  collection->MarkDropped();
  std::string snapshot = storage_->manifest->Get(collection->id());
  Status manifest = storage_->manifest->Set(collection->id(), "");
  if (!manifest.ok()) IMGSEARCH_LOG_WARN("dropping \"{}\": {}", name, manifest.ToString());
  if (!snapshot.empty()) {
    std::error_code ignored;
    std::filesystem::remove(storage_->IndexDir() + "/" + snapshot, ignored);
  }
  std::lock_guard<std::mutex> lock(map_mutex_);
  collections_.erase(name);
  return Status::Ok();
}

Status DatabaseImpl::RenameCollection(const std::string& from, const std::string& to) {
  CollectionSchema renamed;
  renamed.name = to;
  renamed.dimension = 1;
  IMGSEARCH_RETURN_IF_ERROR(ValidateSchema(renamed));  // checks the new name
  std::lock_guard<std::mutex> write_lock(storage_->write_mutex);
  std::shared_ptr<CollectionImpl> collection = Find(from);
  if (collection == nullptr) return Status::NotFound("collection \"" + from + "\" does not exist");
  if (Find(to) != nullptr)
    return Status::InvalidArgument("collection \"" + to + "\" exists already");
  CollectionSchema schema = collection->schema();
  schema.name = to;
  IMGSEARCH_ASSIGN_OR_RETURN(
      Statement update,
      storage_->writer->Prepare("UPDATE collections SET name = ?, schema = ? WHERE id = ?"));
  IMGSEARCH_RETURN_IF_ERROR(update.Bind(1, to)
                                .Bind(2, store::SchemaToJson(schema).dump())
                                .Bind(3, collection->id())
                                .Run());
  collection->SetName(to);
  std::lock_guard<std::mutex> lock(map_mutex_);
  collections_.erase(from);
  collections_[to] = collection;
  return Status::Ok();
}

std::vector<std::string> DatabaseImpl::ListCollections() const {
  std::lock_guard<std::mutex> lock(map_mutex_);
  std::vector<std::string> names;
  for (const auto& [name, c] : collections_) names.push_back(name);
  return names;
}

bool DatabaseImpl::HasCollection(const std::string& name) const {
  return Find(name) != nullptr;
}

Result<std::shared_ptr<Collection>> DatabaseImpl::GetCollection(const std::string& name) const {
  std::shared_ptr<CollectionImpl> collection = Find(name);
  if (collection == nullptr) return Status::NotFound("collection \"" + name + "\" does not exist");
  return std::shared_ptr<Collection>(collection);
}

}  // namespace

Result<std::unique_ptr<Database>> Database::Open(const std::string& dir,
                                                 const DatabaseOptions& options) {
  namespace fs = std::filesystem;
  std::string path = dir + "/imgsearch.db";
  std::error_code error;
  bool fresh = !fs::exists(path, error);
  if (fresh && !options.create_if_missing)
    return Status::NotFound(dir + ": no imgsearch database here");
  fs::create_directories(dir + "/index", error);
  if (error)
    return Status::IOError(dir + ": cannot create the database folder: " + error.message());
  auto storage = std::make_shared<Storage>();
  storage->dir = dir;
  IMGSEARCH_ASSIGN_OR_RETURN(storage->writer, store::SqliteDb::Open(path, true));
  auto db = std::make_unique<DatabaseImpl>(storage, options);
  Status init = db->Init(fresh);
  if (!init.ok()) return init.WithContext(path);
  IMGSEARCH_ASSIGN_OR_RETURN(storage->reader, store::SqliteDb::Open(path, false));
  storage->manifest = std::make_unique<store::Manifest>(storage->IndexDir() + "/MANIFEST");
  Status manifest = storage->manifest->Load();
  if (!manifest.ok()) {
    IMGSEARCH_LOG_WARN("{}; every index will be rebuilt from the rows", manifest.ToString());
    storage->manifest = std::make_unique<store::Manifest>(storage->IndexDir() + "/MANIFEST");
  }
  IMGSEARCH_RETURN_IF_ERROR(db->LoadCollections().WithContext(dir));
  return std::unique_ptr<Database>(std::move(db));
}

}  // namespace imgsearch
