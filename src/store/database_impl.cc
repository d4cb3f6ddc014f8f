// Database: the catalog of collections in SQLite, and their lifetimes.
#include <map>
#include <mutex>
#include <optional>

#include "base/env.h"
#include "base/log.h"
#include "imgsearch/database.h"
#include "index/index_factory.h"
#include "store/collection_impl.h"
#include "store/open_database.h"
#include "store/schema_json.h"
#include "store/write_transaction.h"

namespace imgsearch {
namespace {

using store::CollectionImpl;
using store::Statement;
using store::Storage;
using store::WriteTransaction;

constexpr const char* kDatabaseMagic = "imgsearch-db";
constexpr const char* kDatabaseVersion = "1";

// One row of the collections table.
struct CatalogEntry {
  int64_t id = 0;
  CollectionSchema schema;
  IndexSpec index;
  int64_t next_auto_id = 1;
};

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
  Status Transact(const std::function<Status(Transaction&)>& body) override;
  Result<std::optional<std::string>> GetSetting(const std::string& key) const override;
  void ReadTogether(const std::function<void()>& reads) const override {
    store::SharedPoll shared(storage_.get());
    reads();
  }

 private:
  // Collections by name, after taking in other processes' catalog changes.
  std::shared_ptr<CollectionImpl> Find(const std::string& name) const;
  std::shared_ptr<CollectionImpl> FindLocked(const std::string& name) const;
  // Takes in collections that other processes created, dropped, renamed or re-indexed,
  // when the catalog changed since the last look. Failures are logged: the catalog in
  // memory then stays as it was.
  void RefreshCatalog() const;
  Status ReconcileLocked();
  Result<std::vector<CatalogEntry>> ReadCatalog(store::SqliteDb* db) const;
  Result<std::shared_ptr<CollectionImpl>> OpenCollection(const CatalogEntry& entry) const;
  Status NameIsFree(const std::string& name) const;
  // Whether the catalog (as committed now) still has collection `id`.
  Result<bool> IsListed(int64_t id) const;

  std::shared_ptr<Storage> storage_;
  DatabaseOptions options_;
  // Guards collections_ and the catalog bookkeeping; taken after write_mutex, never
  // before it, so that a transaction's body may look collections up.
  mutable std::mutex catalog_mutex_;
  std::map<std::string, std::shared_ptr<CollectionImpl>> collections_;
  uint64_t catalog_generation_ = 0;
  int64_t catalog_version_ = -1;
  // Settings as read after a poll of Storage::PollChanges, by key: current while the
  // poll's generation is (no commit since, by any process).
  struct CachedSetting {
    uint64_t generation = 0;
    std::optional<std::string> value;
  };
  mutable std::mutex settings_mutex_;
  mutable std::map<std::string, CachedSetting> settings_;
};

// Settings are read by every request of the Milvus dialect (partitions, aliases, vector
// fields): a poll, shared by the request's reads (ReadTogether), replaces a read each.
Result<std::optional<std::string>> DatabaseImpl::GetSetting(const std::string& key) const {
  Result<uint64_t> generation = storage_->PollChanges();
  if (generation.ok()) {
    std::lock_guard<std::mutex> lock(settings_mutex_);
    auto it = settings_.find(key);
    if (it != settings_.end() && it->second.generation >= *generation) return it->second.value;
  }
  // Read after the poll, the value is at least as new as the poll's generation.
  IMGSEARCH_ASSIGN_OR_RETURN(store::ReadLease reader, storage_->Read());
  IMGSEARCH_ASSIGN_OR_RETURN(std::optional<std::string> value,
                             store::ReadSetting(reader.get(), key));
  if (generation.ok()) {
    constexpr size_t kMaxCachedSettings = 1024;
    std::lock_guard<std::mutex> lock(settings_mutex_);
    if (settings_.size() >= kMaxCachedSettings) {
      for (auto it = settings_.begin(); it != settings_.end();)
        it = it->second.generation < *generation ? settings_.erase(it) : std::next(it);
    }
    CachedSetting& cached = settings_[key];
    if (cached.generation <= *generation) cached = CachedSetting{*generation, value};
  }
  return value;
}

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
    // OR IGNORE: another process may be creating the same database at this moment.
    IMGSEARCH_RETURN_IF_ERROR(
        db->Exec(std::string("INSERT OR IGNORE INTO meta VALUES ('format', '") + kDatabaseMagic +
                 " " + kDatabaseVersion + "')"));
    return Status::Ok();
  }
  if (found != std::string(kDatabaseMagic) + " " + kDatabaseVersion) {
    return Status::Unsupported("database format \"" + found + "\" (this build reads \"" +
                               kDatabaseMagic + " " + kDatabaseVersion + "\")");
  }
  return Status::Ok();
}

Result<std::vector<CatalogEntry>> DatabaseImpl::ReadCatalog(store::SqliteDb* db) const {
  IMGSEARCH_ASSIGN_OR_RETURN(
      Statement select,
      db->Prepare("SELECT id, schema, index_spec, next_auto_id FROM collections"));
  std::vector<CatalogEntry> entries;
  for (;;) {
    IMGSEARCH_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    CatalogEntry entry;
    entry.id = select.Int(0);
    auto schema_json = nlohmann::json::parse(select.Text(1), nullptr, false);
    auto index_json = nlohmann::json::parse(select.Text(2), nullptr, false);
    IMGSEARCH_ASSIGN_OR_RETURN(entry.schema, store::SchemaFromJson(schema_json));
    IMGSEARCH_ASSIGN_OR_RETURN(entry.index, store::IndexSpecFromJson(index_json));
    entry.next_auto_id = select.Int(3);
    entries.push_back(std::move(entry));
  }
  return entries;
}

Result<std::shared_ptr<CollectionImpl>> DatabaseImpl::OpenCollection(
    const CatalogEntry& entry) const {
  auto collection =
      std::make_shared<CollectionImpl>(storage_, entry.id, entry.schema, entry.index,
                                       entry.next_auto_id, options_.snapshot_every_changes);
  IMGSEARCH_RETURN_IF_ERROR(
      collection->Load().WithContext("collection \"" + entry.schema.name + "\""));
  return collection;
}

Status DatabaseImpl::LoadCollections() {
  std::lock_guard<std::mutex> lock(catalog_mutex_);
  IMGSEARCH_ASSIGN_OR_RETURN(catalog_generation_, storage_->PollChanges());
  {
    IMGSEARCH_ASSIGN_OR_RETURN(store::ReadLease reader, storage_->Read());
    IMGSEARCH_ASSIGN_OR_RETURN(catalog_version_,
                               store::ReadMetaInt(reader.get(), store::kCatalogVersionKey, 0));
  }
  return ReconcileLocked();
}

Status DatabaseImpl::ReconcileLocked() {
  std::vector<CatalogEntry> entries;
  {
    IMGSEARCH_ASSIGN_OR_RETURN(store::ReadLease reader, storage_->Read());
    IMGSEARCH_ASSIGN_OR_RETURN(entries, ReadCatalog(reader.get()));
  }
  std::map<int64_t, const CatalogEntry*> by_id;
  for (const CatalogEntry& e : entries) by_id[e.id] = &e;
  std::map<int64_t, std::shared_ptr<CollectionImpl>> known;
  for (auto& [name, collection] : collections_) {
    if (by_id.count(collection->id())) {
      known[collection->id()] = collection;
    } else {
      collection->MarkDropped();  // dropped by another process
    }
  }
  std::map<std::string, std::shared_ptr<CollectionImpl>> updated;
  for (const CatalogEntry& e : entries) {
    std::shared_ptr<CollectionImpl> collection;
    if (auto it = known.find(e.id); it != known.end()) {
      collection = it->second;
      if (collection->schema().name != e.schema.name) collection->SetName(e.schema.name);
      IMGSEARCH_RETURN_IF_ERROR(collection->AdoptIndexSpec(e.index));
    } else {
      Result<std::shared_ptr<CollectionImpl>> opened = OpenCollection(e);
      if (!opened.ok()) {
        // Dropped by another process since the catalog was read: left out, as a read
        // after the drop would have.
        Result<bool> listed = IsListed(e.id);
        if (listed.ok() && !*listed) continue;
        return opened.status();
      }
      collection = std::move(*opened);
    }
    updated[e.schema.name] = std::move(collection);
  }
  collections_ = std::move(updated);
  return Status::Ok();
}

void DatabaseImpl::RefreshCatalog() const {
  std::lock_guard<std::mutex> lock(catalog_mutex_);
  auto generation = storage_->PollChanges();
  // A later poll (another thread's, while this one's SharedPoll answers an earlier one)
  // found the catalog as it was at this one too.
  if (generation.ok() && *generation <= catalog_generation_) return;
  auto read_version = [this]() -> Result<int64_t> {
    IMGSEARCH_ASSIGN_OR_RETURN(store::ReadLease reader, storage_->Read());
    return store::ReadMetaInt(reader.get(), store::kCatalogVersionKey, 0);
  };
  Result<int64_t> version = generation.ok() ? read_version() : generation.status();
  Status refreshed = version.status();
  if (version.ok() && *version != catalog_version_) {
    // The map is a cache of the catalog table: filling it in changes nothing a caller sees.
    refreshed = const_cast<DatabaseImpl*>(this)->ReconcileLocked();
  }
  if (!refreshed.ok()) {
    IMGSEARCH_LOG_WARN("cannot take in other processes' collection changes: {}",
                       refreshed.ToString());
    return;
  }
  auto* self = const_cast<DatabaseImpl*>(this);
  self->catalog_generation_ = *generation;
  self->catalog_version_ = *version;
}

std::shared_ptr<CollectionImpl> DatabaseImpl::FindLocked(const std::string& name) const {
  auto it = collections_.find(name);
  return it == collections_.end() ? nullptr : it->second;
}

std::shared_ptr<CollectionImpl> DatabaseImpl::Find(const std::string& name) const {
  RefreshCatalog();
  std::lock_guard<std::mutex> lock(catalog_mutex_);
  return FindLocked(name);
}

Result<bool> DatabaseImpl::IsListed(int64_t id) const {
  IMGSEARCH_ASSIGN_OR_RETURN(store::ReadLease reader, storage_->Read());
  IMGSEARCH_ASSIGN_OR_RETURN(Statement select,
                             reader->Prepare("SELECT 1 FROM collections WHERE id = ?"));
  select.Bind(1, id);
  return select.Step();
}

// Inside a write transaction: the catalog table itself, not this process's view of it.
Status DatabaseImpl::NameIsFree(const std::string& name) const {
  IMGSEARCH_ASSIGN_OR_RETURN(Statement select,
                             storage_->writer->Prepare("SELECT 1 FROM collections WHERE name = ?"));
  select.Bind(1, name);
  IMGSEARCH_ASSIGN_OR_RETURN(bool taken, select.Step());
  if (taken) return Status::InvalidArgument("collection \"" + name + "\" exists already");
  return Status::Ok();
}

Status DatabaseImpl::CreateCollection(const CollectionSchema& schema, const IndexSpec& index) {
  IMGSEARCH_RETURN_IF_ERROR(ValidateSchema(schema));
  IMGSEARCH_ASSIGN_OR_RETURN(index::Metric metric, index::ParseMetric(index.metric_type));
  IMGSEARCH_RETURN_IF_ERROR(
      index::ValidateIndexDescription({index.index_type, metric, index.params}, schema.binary(),
                                      schema.dimension)
          .status());
  WriteTransaction txn(storage_.get());
  IMGSEARCH_RETURN_IF_ERROR(txn.Begin());
  IMGSEARCH_RETURN_IF_ERROR(NameIsFree(schema.name));
  store::SqliteDb* db = storage_->writer.get();
  IMGSEARCH_ASSIGN_OR_RETURN(
      Statement insert,
      db->Prepare("INSERT INTO collections (name, schema, index_spec) VALUES (?, ?, ?)"));
  IMGSEARCH_RETURN_IF_ERROR(insert.Bind(1, schema.name)
                                .Bind(2, store::SchemaToJson(schema).dump())
                                .Bind(3, store::IndexSpecToJson(index).dump())
                                .Run());
  CatalogEntry entry{db->LastInsertId(), schema, index, 1};
  auto collection = std::make_shared<CollectionImpl>(storage_, entry.id, schema, index, 1,
                                                     options_.snapshot_every_changes);
  IMGSEARCH_RETURN_IF_ERROR(collection->CreateTable());
  IMGSEARCH_RETURN_IF_ERROR(store::BumpCatalogVersion(db));
  std::lock_guard<std::mutex> lock(catalog_mutex_);
  IMGSEARCH_RETURN_IF_ERROR(txn.Commit());
  IMGSEARCH_RETURN_IF_ERROR(collection->Load());
  collections_[schema.name] = std::move(collection);
  return Status::Ok();
}

Status DatabaseImpl::DropCollection(const std::string& name) {
  std::shared_ptr<CollectionImpl> collection = Find(name);
  if (collection == nullptr) return Status::NotFound("collection \"" + name + "\" does not exist");
  {
    WriteTransaction txn(storage_.get());
    IMGSEARCH_RETURN_IF_ERROR(txn.Begin());
    store::SqliteDb* db = storage_->writer.get();
    IMGSEARCH_ASSIGN_OR_RETURN(Statement remove,
                               db->Prepare("DELETE FROM collections WHERE id = ?"));
    IMGSEARCH_RETURN_IF_ERROR(remove.Bind(1, collection->id()).Run());
    IMGSEARCH_RETURN_IF_ERROR(db->Exec("DROP TABLE IF EXISTS " + collection->table()));
    IMGSEARCH_RETURN_IF_ERROR(db->Exec("DROP TABLE IF EXISTS " + collection->vector_table()));
    IMGSEARCH_RETURN_IF_ERROR(store::BumpCatalogVersion(db));
    std::lock_guard<std::mutex> lock(catalog_mutex_);
    IMGSEARCH_RETURN_IF_ERROR(txn.Commit());
    collection->MarkDropped();
    if (FindLocked(name) == collection) collections_.erase(name);
  }
  Status forgotten = collection->ForgetSnapshot();
  if (!forgotten.ok()) IMGSEARCH_LOG_WARN("dropping \"{}\": {}", name, forgotten.ToString());
  return Status::Ok();
}

Status DatabaseImpl::RenameCollection(const std::string& from, const std::string& to) {
  CollectionSchema renamed;
  renamed.name = to;
  renamed.dimension = 1;
  IMGSEARCH_RETURN_IF_ERROR(ValidateSchema(renamed));  // checks the new name
  std::shared_ptr<CollectionImpl> collection = Find(from);
  if (collection == nullptr) return Status::NotFound("collection \"" + from + "\" does not exist");
  WriteTransaction txn(storage_.get());
  IMGSEARCH_RETURN_IF_ERROR(txn.Begin());
  IMGSEARCH_RETURN_IF_ERROR(NameIsFree(to));
  CollectionSchema schema = collection->schema();
  schema.name = to;
  store::SqliteDb* db = storage_->writer.get();
  IMGSEARCH_ASSIGN_OR_RETURN(
      Statement update, db->Prepare("UPDATE collections SET name = ?, schema = ? WHERE id = ?"));
  IMGSEARCH_RETURN_IF_ERROR(update.Bind(1, to)
                                .Bind(2, store::SchemaToJson(schema).dump())
                                .Bind(3, collection->id())
                                .Run());
  IMGSEARCH_RETURN_IF_ERROR(store::BumpCatalogVersion(db));
  std::lock_guard<std::mutex> lock(catalog_mutex_);
  IMGSEARCH_RETURN_IF_ERROR(txn.Commit());
  collection->SetName(to);
  if (FindLocked(from) == collection) collections_.erase(from);
  collections_[to] = collection;
  return Status::Ok();
}

std::vector<std::string> DatabaseImpl::ListCollections() const {
  RefreshCatalog();
  std::lock_guard<std::mutex> lock(catalog_mutex_);
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

Status DatabaseImpl::Transact(const std::function<Status(Transaction&)>& body) {
  WriteTransaction txn(storage_.get(),
                       [this](const std::string& name) -> Result<std::shared_ptr<CollectionImpl>> {
                         std::shared_ptr<CollectionImpl> found = Find(name);
                         if (found == nullptr)
                           return Status::NotFound("collection \"" + name + "\" does not exist");
                         return found;
                       });
  IMGSEARCH_RETURN_IF_ERROR(txn.Begin());
  IMGSEARCH_RETURN_IF_ERROR(body(txn));
  return txn.Commit();
}

// A new database goes only into a folder that is missing or empty, so that imgsearch
// never mixes its files into a folder that holds someone else's.
Status CheckFolderForNewDatabase(base::Env* env, const std::string& dir) {
  if (!env->FileExists(dir)) return Status::Ok();
  IMGSEARCH_ASSIGN_OR_RETURN(std::vector<std::string> names, env->ListDir(dir));
  for (const std::string& name : names) {
    if (name == "index") continue;  // left by an earlier attempt that created nothing else
    return Status::InvalidArgument(
        dir + " holds other files (for example \"" + name +
        "\") but no imgsearch library; refusing to create one there: name a new or empty folder");
  }
  return Status::Ok();
}

}  // namespace

namespace store {

Result<std::unique_ptr<Database>> OpenDatabase(const std::string& dir,
                                               const DatabaseOptions& options, base::Env* env) {
  std::string path = dir + "/imgsearch.db";
  bool fresh = !env->FileExists(path);
  if (fresh && !options.create_if_missing)
    return Status::NotFound(dir + ": no imgsearch database here");
  if (fresh) IMGSEARCH_RETURN_IF_ERROR(CheckFolderForNewDatabase(env, dir));
  IMGSEARCH_RETURN_IF_ERROR(env->CreateDirs(dir + "/index"));
  auto storage = std::make_shared<Storage>();
  storage->env = env;
  storage->dir = dir;
  storage->path = path;
  storage->vfs = env->SqliteVfsName();
  IMGSEARCH_ASSIGN_OR_RETURN(storage->writer, store::SqliteDb::Open(path, true, storage->vfs));
  auto db = std::make_unique<DatabaseImpl>(storage, options);
  Status init = db->Init(fresh);
  if (!init.ok()) return init.WithContext(path);
  IMGSEARCH_ASSIGN_OR_RETURN(storage->poller, store::SqliteDb::Open(path, false, storage->vfs));
  if (options.checkpoint_in_background) {
    storage->checkpointer =
        std::make_unique<store::WalCheckpointer>(storage->writer.get(), path, storage->vfs);
  }
  std::string manifest_path = storage->IndexDir() + "/MANIFEST";
  storage->manifest = std::make_unique<store::Manifest>(env, manifest_path);
  Status manifest = storage->manifest->Load();
  if (!manifest.ok()) {
    IMGSEARCH_LOG_WARN("{}; every index will be rebuilt from the rows", manifest.ToString());
    storage->manifest = std::make_unique<store::Manifest>(env, manifest_path);
  }
  IMGSEARCH_RETURN_IF_ERROR(db->LoadCollections().WithContext(dir));
  return std::unique_ptr<Database>(std::move(db));
}

}  // namespace store

Result<std::unique_ptr<Database>> Database::Open(const std::string& dir,
                                                 const DatabaseOptions& options) {
  return store::OpenDatabase(dir, options, base::Env::Default());
}

}  // namespace imgsearch
