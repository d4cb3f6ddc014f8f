#include "store/storage.h"

#include <cstdlib>

namespace imgsearch::store {

namespace {

// This thread's SharedPoll: the storage it is for, and its poll once made.
struct ThreadPoll {
  const Storage* storage = nullptr;
  bool polled = false;
  uint64_t generation = 0;
  uint64_t commits = 0;  // Storage::commits_ when it polled
};
thread_local ThreadPoll thread_poll;

}  // namespace

SharedPoll::SharedPoll(const Storage* storage) {
  if (thread_poll.storage != nullptr) return;  // an outer one is open
  thread_poll = ThreadPoll{storage};
  owner_ = true;
}

SharedPoll::~SharedPoll() {
  if (owner_) thread_poll = ThreadPoll{};
}

Result<uint64_t> Storage::PollChanges() {
  ThreadPoll* shared = thread_poll.storage == this ? &thread_poll : nullptr;
  // Read before polling: a commit between the two makes the next call poll again.
  const uint64_t commits = commits_.load(std::memory_order_acquire);
  if (shared != nullptr && shared->polled && shared->commits == commits) return shared->generation;
  Result<uint64_t> generation = PollNow();
  if (shared != nullptr && generation.ok()) *shared = ThreadPoll{this, true, *generation, commits};
  return generation;
}

Result<uint64_t> Storage::PollNow() {
  std::lock_guard<std::mutex> lock(poll_mutex_);
  if (!data_version_) {
    // The poller never writes, so every change is "another connection's".
    IMGSEARCH_ASSIGN_OR_RETURN(Statement statement, poller->Prepare("PRAGMA data_version"));
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

// Idle readers kept for reuse; more (after a burst of parallel reads) are closed.
constexpr size_t kIdleReaders = 8;
// A reader's page cache, in KiB (SQLite's default is 2,000). Readers look rows up by key
// (a re-rank reads 4·k random rows): the interior pages that every lookup passes through
// (about 40 of 8 KiB over 100,000 vectors) stay cached; the leaves hardly repeat, and at
// 2 MB per reader they only held anonymous memory (8 readers: 16 MB).
constexpr int kReaderCacheKiB = 1024;

ReadLease::~ReadLease() {
  if (storage_ != nullptr && db_ != nullptr) storage_->GiveBack(std::move(db_));
}

Result<ReadLease> Storage::Read() {
  {
    std::lock_guard<std::mutex> lock(readers_mutex_);
    if (!idle_readers_.empty()) {
      std::unique_ptr<SqliteDb> db = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return ReadLease(this, std::move(db));
    }
  }
  IMGSEARCH_ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db, SqliteDb::Open(path, false, vfs));
  IMGSEARCH_RETURN_IF_ERROR(db->Exec("PRAGMA cache_size=-" + std::to_string(kReaderCacheKiB)));
  return ReadLease(this, std::move(db));
}

void Storage::GiveBack(std::unique_ptr<SqliteDb> db) {
  std::lock_guard<std::mutex> lock(readers_mutex_);
  if (idle_readers_.size() < kIdleReaders) idle_readers_.push_back(std::move(db));
}

Result<std::unique_ptr<base::FileLock>> Storage::LockSnapshots(bool wait) {
  return env->LockFile(IndexDir() + "/LOCK", wait);
}

namespace {

Result<std::optional<std::string>> ReadMeta(SqliteDb* db, const std::string& key) {
  IMGSEARCH_ASSIGN_OR_RETURN(Statement select, db->Prepare("SELECT value FROM meta WHERE key = ?"));
  select.Bind(1, key);
  IMGSEARCH_ASSIGN_OR_RETURN(bool found, select.Step());
  if (!found) return std::optional<std::string>();
  return std::optional<std::string>(select.Text(0));
}

Status WriteMeta(SqliteDb* db, const std::string& key, const std::string& value) {
  IMGSEARCH_ASSIGN_OR_RETURN(Statement upsert,
                             db->Prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"));
  return upsert.Bind(1, key).Bind(2, value).Run();
}

}  // namespace

Result<int64_t> ReadMetaInt(SqliteDb* db, const std::string& key, int64_t missing) {
  IMGSEARCH_ASSIGN_OR_RETURN(std::optional<std::string> text, ReadMeta(db, key));
  if (!text) return missing;
  char* end = nullptr;
  long long value = std::strtoll(text->c_str(), &end, 10);
  if (text->empty() || *end != '\0')
    return Status::Corruption("meta \"" + key + "\" is not a number: " + *text);
  return static_cast<int64_t>(value);
}

Status WriteMetaInt(SqliteDb* db, const std::string& key, int64_t value) {
  return WriteMeta(db, key, std::to_string(value));
}

Result<std::optional<std::string>> ReadSetting(SqliteDb* db, const std::string& key) {
  return ReadMeta(db, kSettingPrefix + key);
}

Status WriteSetting(SqliteDb* db, const std::string& key, const std::string& value) {
  return WriteMeta(db, kSettingPrefix + key, value);
}

Status BumpCatalogVersion(SqliteDb* db) {
  IMGSEARCH_ASSIGN_OR_RETURN(int64_t version, ReadMetaInt(db, kCatalogVersionKey, 0));
  return WriteMetaInt(db, kCatalogVersionKey, version + 1);
}

}  // namespace imgsearch::store
