#include "store/storage.h"

namespace imgsearch::store {

Result<uint64_t> Storage::PollChanges() {
  std::lock_guard<std::mutex> lock(poll_mutex_);
  if (!data_version_) {
    // The reader connection never writes, so every change is "another connection's".
    IMGSEARCH_ASSIGN_OR_RETURN(Statement statement, reader->Prepare("PRAGMA data_version"));
    data_version_ = std::move(statement);
  }
  IMGSEARCH_ASSIGN_OR_RETURN(bool has_row, data_version_->Step());
  int64_t version = has_row ? data_version_->Int(0) : -1;
  data_version_->Reset();
  if (version != last_data_version_) {
    last_data_version_ = version;
    ++generation_;
  }
  return generation_;
}

Result<std::unique_ptr<base::FileLock>> Storage::LockSnapshots(bool wait) {
  return base::Env::Default()->LockFile(IndexDir() + "/LOCK", wait);
}

Result<int64_t> ReadMetaInt(SqliteDb* db, const std::string& key, int64_t missing) {
  IMGSEARCH_ASSIGN_OR_RETURN(Statement select,
                             db->Prepare("SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?"));
  select.Bind(1, key);
  IMGSEARCH_ASSIGN_OR_RETURN(bool found, select.Step());
  return found ? select.Int(0) : missing;
}

Status WriteMetaInt(SqliteDb* db, const std::string& key, int64_t value) {
  IMGSEARCH_ASSIGN_OR_RETURN(Statement upsert,
                             db->Prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"));
  return upsert.Bind(1, key).Bind(2, std::to_string(value)).Run();
}

Result<std::optional<std::string>> ReadSetting(SqliteDb* db, const std::string& key) {
  IMGSEARCH_ASSIGN_OR_RETURN(Statement select, db->Prepare("SELECT value FROM meta WHERE key = ?"));
  select.Bind(1, "setting:" + key);
  IMGSEARCH_ASSIGN_OR_RETURN(bool found, select.Step());
  if (!found) return std::optional<std::string>();
  return std::optional<std::string>(select.Text(0));
}

Status WriteSetting(SqliteDb* db, const std::string& key, const std::string& value) {
  IMGSEARCH_ASSIGN_OR_RETURN(Statement upsert,
                             db->Prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"));
  return upsert.Bind(1, "setting:" + key).Bind(2, value).Run();
}

Status BumpCatalogVersion(SqliteDb* db) {
  IMGSEARCH_ASSIGN_OR_RETURN(int64_t version, ReadMetaInt(db, kCatalogVersionKey, 0));
  return WriteMetaInt(db, kCatalogVersionKey, version + 1);
}

}  // namespace imgsearch::store
