// A thin RAII layer over SQLite: a connection, prepared statements with bound values,
// and transactions. Every failure becomes a Status naming what SQLite said.
#pragma once

#include <sqlite3.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "imgsearch/status.h"

namespace imgsearch::store {

// The Status for an SQLite result code (primary or extended) and what was being done.
Status SqliteStatus(int code, const std::string& message);
// The Status for the last failure on `db`, prefixed with the database file's path (so
// that "database or disk is full" names the disk) and what was being done.
Status SqliteError(sqlite3* db, const std::string& what);

class SqliteDb;

// A prepared statement of one connection (SqliteDb::Prepare). It must end before its
// connection does. Ending, it goes back to its connection, reset, for the next Prepare
// of the same SQL.
class Statement {
 public:
  Statement() = default;
  Statement(sqlite3_stmt* stmt, SqliteDb* owner) : stmt_(stmt), owner_(owner) {}
  Statement(Statement&& o) noexcept
      : stmt_(std::exchange(o.stmt_, nullptr)),
        owner_(std::exchange(o.owner_, nullptr)),
        bind_status_(std::move(o.bind_status_)) {}
  Statement& operator=(Statement&& o) noexcept {
    std::swap(stmt_, o.stmt_);
    std::swap(owner_, o.owner_);
    std::swap(bind_status_, o.bind_status_);
    return *this;
  }
  ~Statement();

  // Binds chain (Bind(1, a).Bind(2, b).Run()), so a failed bind (a parameter the
  // statement lacks, a value over SQLite's size limit) is kept and returned by the next
  // Step or Run, which then do not run the statement; Reset forgets it.
  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, std::string_view text);
  Statement& BindBlob(int index, const void* data, size_t size);
  Statement& BindNull(int index);

  // Advances: true with a row to read, false when done.
  Result<bool> Step();
  // Runs to completion, then resets.
  Status Run();
  void Reset();

  int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }
  bool IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  std::string Text(int column) const;
  std::string_view Blob(int column) const;

 private:
  Statement& CheckBind(int rc, int index);
  // The statement's text, for messages.
  std::string Sql() const;

  sqlite3_stmt* stmt_ = nullptr;
  SqliteDb* owner_ = nullptr;  // keeps it for reuse; none: finalized
  Status bind_status_;         // the first failed bind since the last Reset
};

class SqliteDb {
 public:
  // Opens with WAL journaling and synchronous=FULL: a commit is durable when it returns.
  // `vfs` names the SQLite VFS to open it through (nullptr: SQLite's default).
  static Result<std::unique_ptr<SqliteDb>> Open(const std::string& path, bool create,
                                                const char* vfs = nullptr);
  ~SqliteDb();

  Status Exec(const std::string& sql);
  // A statement of `sql`: one prepared before and ended (reset, its values unbound), or a
  // new one. The connection keeps the last few that end, so that a read repeated on it
  // (a setting, a row by key) is not parsed and planned again.
  Result<Statement> Prepare(const std::string& sql);
  Status Begin() { return Exec("BEGIN IMMEDIATE"); }
  // A read transaction (deferred): one snapshot and one take of the file locks for many
  // reads.
  Status BeginRead() { return Exec("BEGIN"); }
  Status Commit() { return Exec("COMMIT"); }
  // Logs a failure that leaves the transaction open (callers are on an error path already).
  void Rollback();

  Status Error(const std::string& what) const;
  int64_t LastInsertId() const { return sqlite3_last_insert_rowid(db_); }

  // Called after each commit with the WAL's size in pages, in place of SQLite's own
  // checkpoint there (PASSIVE, once the WAL holds 1,000 pages); nullptr puts that back.
  // The hook runs inside the commit, on the committing thread; it must outlive its use.
  using WalHook = std::function<void(int wal_pages)>;
  void SetWalHook(WalHook* hook);
  // Copies what it can of the WAL into the database file without waiting for readers or
  // writers (SQLITE_CHECKPOINT_PASSIVE); another checkpoint under way is not an error.
  Status CheckpointPassive();

 private:
  friend class Statement;
  explicit SqliteDb(sqlite3* db) : db_(db) {}
  // Takes back an ended statement: kept for reuse, the oldest finalized beyond a few.
  void Keep(sqlite3_stmt* stmt);

  sqlite3* db_;
  // Statements that ended, with their SQL, newest last. Used by one thread at a time, as
  // the connection is (a reader is leased, the writer and the poller are under locks).
  std::vector<std::pair<std::string, sqlite3_stmt*>> kept_;
};

// Rolls back on scope exit unless Commit() succeeded (a read transaction: ends it).
class SqlTransaction {
 public:
  explicit SqlTransaction(SqliteDb* db) : db_(db) {}
  ~SqlTransaction() {
    if (open_) db_->Rollback();
  }
  Status Begin() {
    IMGSEARCH_RETURN_IF_ERROR(db_->Begin());
    open_ = true;
    return Status::Ok();
  }
  Status BeginRead() {
    IMGSEARCH_RETURN_IF_ERROR(db_->BeginRead());
    open_ = true;
    return Status::Ok();
  }
  Status Commit() {
    IMGSEARCH_RETURN_IF_ERROR(db_->Commit());
    open_ = false;
    return Status::Ok();
  }

 private:
  SqliteDb* db_;
  bool open_ = false;
};

}  // namespace imgsearch::store
