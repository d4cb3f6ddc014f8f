// Storage: what the collections of one database share: the SQLite connections, the lock
// that admits one writer at a time, and the MANIFEST naming the current index snapshots.
//
// Several processes may open one database. SQLite admits one writer at a time across
// all of them; within a process, write_mutex does. Each process keeps its own in-memory
// state and catches up with the others' changes (PollChanges tells when there are any).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/env.h"
#include "store/sqlite.h"
#include "store/wal_checkpointer.h"

namespace imgsearch::store {

// The MANIFEST's contents, collection id -> snapshot file name, from and to its text
// (layout in doc/format.md). ParseManifest refuses a text that is not a MANIFEST of this
// version with kCorruption or kUnsupported; the caller adds the file's name.
using ManifestEntries = std::map<int64_t, std::string>;
Result<ManifestEntries> ParseManifest(std::string_view text);
std::string ManifestText(const ManifestEntries& entries);

// The MANIFEST file: which snapshot file is current for each collection id. Written
// whole, atomically (temp, fsync, rename, fsync directory). Thread-safe.
class Manifest {
 public:
  Manifest(base::Env* env, std::string path) : env_(env), path_(std::move(path)) {}
  // Reads the file; a missing file is an empty manifest, a damaged one an error.
  Status Load();
  std::string Get(int64_t collection_id) const;
  // Records (or, with an empty name, removes) a collection's snapshot and writes the file.
  Status Set(int64_t collection_id, const std::string& snapshot_file);

 private:
  Status Write() const;
  base::Env* const env_;
  std::string path_;
  mutable std::mutex mutex_;
  ManifestEntries snapshots_;
};

struct Storage;

// A reader connection lent to one caller for one read; Storage::Read gives them out. The
// statements prepared on it must end before the lease does (declare them after it). SQLite
// pins a connection's snapshot while any of its statements runs: one connection shared by
// threads let one thread's long read (a replay, a catch-up) hide newer commits from the
// others, even this process's own (a collection just created read as "no such table", rows
// just written as missing, a catch-up that found nothing and was taken as done). A lease
// is used by one thread and, once its statements end, starts its next read at the newest
// commit. WAL: it sees committed data only and never waits for writers.
class ReadLease {
 public:
  ReadLease(Storage* storage, std::unique_ptr<SqliteDb> db)
      : storage_(storage), db_(std::move(db)) {}
  ReadLease(ReadLease&& other) noexcept
      : storage_(std::exchange(other.storage_, nullptr)), db_(std::move(other.db_)) {}
  ReadLease& operator=(ReadLease&&) = delete;
  ~ReadLease();  // gives the connection back

  SqliteDb* get() const { return db_.get(); }
  SqliteDb* operator->() const { return db_.get(); }

 private:
  Storage* storage_;
  std::unique_ptr<SqliteDb> db_;
};

struct Storage {
  base::Env* env = base::Env::Default();  // every file operation goes through it
  std::string dir;
  std::string path;                  // of the SQLite file
  const char* vfs = nullptr;         // the SQLite VFS it is opened through (Env::SqliteVfsName)
  std::unique_ptr<SqliteDb> writer;  // used only under write_mutex
  std::unique_ptr<SqliteDb> poller;  // only for PollChanges (it never writes)
  std::mutex write_mutex;
  std::unique_ptr<Manifest> manifest;
  // Takes the writer's WAL checkpoints off the committing thread (unless the options
  // said not to); declared after `writer`, so that it stops before the writer closes.
  std::unique_ptr<WalCheckpointer> checkpointer;
  std::string IndexDir() const { return dir + "/index"; }

  // A number that grows whenever a poll finds changes committed since the previous poll,
  // by this process or any other. Cheap: it reads SQLite's data_version, no table; but
  // that is still a read transaction (file locks), so inside a SharedPoll it is done once.
  Result<uint64_t> PollChanges();
  // Called after every write transaction this process commits: a SharedPoll polls again.
  void NoteCommit() { commits_.fetch_add(1, std::memory_order_acq_rel); }
  // A reader connection for one read: an idle one, or a new one when all are lent.
  Result<ReadLease> Read();
  // Called by ~ReadLease.
  void GiveBack(std::unique_ptr<SqliteDb> db);
  // Held while an index snapshot is written and the MANIFEST updated, so that one
  // process at a time does it. Without `wait`, fails at once when another holds it.
  Result<std::unique_ptr<base::FileLock>> LockSnapshots(bool wait);

 private:
  Result<uint64_t> PollNow();  // PollChanges, always polling

  std::mutex readers_mutex_;
  std::vector<std::unique_ptr<SqliteDb>> idle_readers_;
  std::mutex poll_mutex_;
  std::optional<Statement> data_version_;
  int64_t last_data_version_ = -1;
  uint64_t generation_ = 0;
  std::atomic<uint64_t> commits_{0};  // write transactions this process committed
};

// Several reads on one thread as one look at the database: while a SharedPoll of a
// storage lives, PollChanges of that storage on this thread polls once and then answers
// that generation again, so that a request of several reads (a collection looked up, its
// settings, a search) pays one poll and sees everything committed before it began. A
// write this process commits meanwhile makes the next PollChanges poll again, so that the
// reads after it see it. Nested ones (of the same storage) share the outermost; one of
// another storage inside does nothing.
class SharedPoll {
 public:
  explicit SharedPoll(const Storage* storage);
  ~SharedPoll();
  SharedPoll(const SharedPoll&) = delete;
  SharedPoll& operator=(const SharedPoll&) = delete;

 private:
  bool owner_ = false;
};

// Integers in the meta table (key TEXT, value TEXT): counters and markers shared by every
// process. ReadMetaInt gives `missing` for an absent key.
Result<int64_t> ReadMetaInt(SqliteDb* db, const std::string& key, int64_t missing);
Status WriteMetaInt(SqliteDb* db, const std::string& key, int64_t value);
// Settings (Database::GetSetting) are meta rows under this prefix.
inline constexpr const char* kSettingPrefix = "setting:";
Result<std::optional<std::string>> ReadSetting(SqliteDb* db, const std::string& key);
Status WriteSetting(SqliteDb* db, const std::string& key, const std::string& value);

// Tells other processes that collections were created, dropped, renamed or re-indexed.
Status BumpCatalogVersion(SqliteDb* db);

// meta keys
inline constexpr const char* kCatalogVersionKey = "catalog_version";  // bumped by every DDL
// Tombstones of collection ID up to this sequence number were purged by a compaction.
inline std::string PurgedThroughKey(int64_t collection_id) {
  return "purged_through:" + std::to_string(collection_id);
}

}  // namespace imgsearch::store
