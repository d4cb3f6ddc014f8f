#include "store/sqlite.h"

#include "base/log.h"

namespace imgsearch::store {
namespace {
// How long a writer waits for another process's write transaction before giving up.
constexpr int kBusyTimeoutMs = 10000;
constexpr int kDefaultAutoCheckpointPages = 1000;  // SQLite's default
// Ended statements a connection keeps for reuse: a search reads a few settings and rows
// on a reader, and a collection has a handful of statements of its own.
constexpr size_t kKeptStatements = 24;
}  // namespace

// Finalizing only repeats the last Step's error, which Step has returned already; so does
// the reset before the statement goes back to its connection.
Statement::~Statement() {
  if (stmt_ == nullptr) return;
  if (owner_ == nullptr) {
    sqlite3_finalize(stmt_);
    return;
  }
  sqlite3_reset(stmt_);  // ends its read, so the connection's next one sees newer commits
  sqlite3_clear_bindings(stmt_);
  owner_->Keep(stmt_);
}

Statement& Statement::Bind(int index, int64_t value) {
  return CheckBind(sqlite3_bind_int64(stmt_, index, value), index);
}
Statement& Statement::Bind(int index, std::string_view text) {
  return CheckBind(
      sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
      index);
}
Statement& Statement::BindBlob(int index, const void* data, size_t size) {
  return CheckBind(sqlite3_bind_blob64(stmt_, index, data, size, SQLITE_TRANSIENT), index);
}
Statement& Statement::BindNull(int index) {
  return CheckBind(sqlite3_bind_null(stmt_, index), index);
}

Statement& Statement::CheckBind(int rc, int index) {
  if (rc != SQLITE_OK && bind_status_.ok()) {
    bind_status_ = SqliteStatus(rc, "binding parameter " + std::to_string(index) + " of \"" +
                                        Sql() + "\": SQLite: " + sqlite3_errstr(rc));
  }
  return *this;
}

std::string Statement::Sql() const {
  const char* sql = stmt_ != nullptr ? sqlite3_sql(stmt_) : nullptr;
  return sql == nullptr ? std::string("(no statement)") : std::string(sql).substr(0, 60);
}

Result<bool> Statement::Step() {
  if (!bind_status_.ok()) return bind_status_;
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(sqlite3_db_handle(stmt_), "\"" + Sql() + "\"");
}

Status Statement::Run() {
  for (;;) {
    Result<bool> row = Step();
    if (!row.ok()) {
      Reset();  // the statement stays usable after a failure
      return row.status();
    }
    if (!*row) break;
  }
  Reset();
  return Status::Ok();
}

// sqlite3_reset returns the last Step's error again, which Step has returned already.
void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_status_ = Status::Ok();
}

std::string Statement::Text(int column) const {
  const auto* text = sqlite3_column_text(stmt_, column);
  return text == nullptr ? std::string()
                         : std::string(reinterpret_cast<const char*>(text),
                                       sqlite3_column_bytes(stmt_, column));
}

std::string_view Statement::Blob(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  return {static_cast<const char*>(data), static_cast<size_t>(sqlite3_column_bytes(stmt_, column))};
}

Result<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path, bool create,
                                                 const char* vfs) {
  sqlite3* handle = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &handle, flags, vfs);
  std::unique_ptr<SqliteDb> db(new SqliteDb(handle));
  if (rc != SQLITE_OK) {
    return SqliteStatus(rc, path + ": cannot open database: " +
                                (handle ? sqlite3_errmsg(handle) : "out of memory"));
  }
  if (sqlite3_busy_timeout(handle, kBusyTimeoutMs) != SQLITE_OK ||
      sqlite3_extended_result_codes(handle, 1) != SQLITE_OK) {
    return db->Error("configuring the connection");
  }
  // 8 KB pages, for a new database only (an existing one keeps its size): a row of a
  // 512-d vector (2 KB and a header) filled a 4 KB page alone, three share an 8 KB page,
  // and inserts write a third fewer bytes (store_bench: 0.55x -> 0.95x of plain SQLite).
  IMGSEARCH_RETURN_IF_ERROR(db->Exec("PRAGMA page_size=8192"));
  IMGSEARCH_RETURN_IF_ERROR(db->Exec("PRAGMA journal_mode=WAL"));
  IMGSEARCH_RETURN_IF_ERROR(db->Exec("PRAGMA synchronous=FULL"));
  IMGSEARCH_RETURN_IF_ERROR(db->Exec("PRAGMA foreign_keys=ON"));
  // Pages are read with pread into the connection's own cache, never through a memory
  // map: a map is per connection, and every page a map touched (the kernel maps its
  // neighbours in with it) counts in the process's RSS once per map. Eight pooled readers
  // re-ranking HNSW_SQ SQ8 searches from the vector table each mapped all of it: 213 MB
  // resident after load became 2,338 MB after 8 s of searches (doc/milvus.md, Memory).
  IMGSEARCH_RETURN_IF_ERROR(db->Exec("PRAGMA mmap_size=0"));
  return db;
}

namespace {

int CallWalHook(void* hook, sqlite3*, const char*, int wal_pages) {
  (*static_cast<SqliteDb::WalHook*>(hook))(wal_pages);
  return SQLITE_OK;
}

}  // namespace

void SqliteDb::SetWalHook(WalHook* hook) {
  if (hook == nullptr) {
    sqlite3_wal_autocheckpoint(db_, kDefaultAutoCheckpointPages);
  } else {
    sqlite3_wal_hook(db_, &CallWalHook, hook);
  }
}

Status SqliteDb::CheckpointPassive() {
  int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  if (rc == SQLITE_OK || (rc & 0xff) == SQLITE_BUSY) return Status::Ok();
  return Error("checkpoint");
}

// sqlite3_close_v2 fails only on a bad handle; statements still open keep the connection
// until they are finalized.
SqliteDb::~SqliteDb() {
  for (auto& [sql, stmt] : kept_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

void SqliteDb::Keep(sqlite3_stmt* stmt) {
  if (kept_.size() == kKeptStatements) {
    sqlite3_finalize(kept_.front().second);
    kept_.erase(kept_.begin());
  }
  kept_.emplace_back(sqlite3_sql(stmt), stmt);
}

Status SqliteStatus(int code, const std::string& message) {
  switch (code & 0xff) {
    case SQLITE_BUSY:
      return Status::IOError(
          "the database is busy: another process has held its write lock for over " +
          std::to_string(kBusyTimeoutMs / 1000) + " s (" + message + ")");
    case SQLITE_FULL:
      return Status::NoSpace(message);
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
      return Status::IOError(message);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::Corruption(message);
    case SQLITE_NOMEM:
    case SQLITE_TOOBIG:
      return Status::ResourceExhausted(message);
    default:
      return Status::Internal(message);
  }
}

Status SqliteError(sqlite3* db, const std::string& what) {
  const char* file = sqlite3_db_filename(db, "main");
  std::string where = file != nullptr && *file != '\0' ? std::string(file) + ": " : "";
  return SqliteStatus(sqlite3_extended_errcode(db),
                      where + what + ": SQLite: " + sqlite3_errmsg(db));
}

Status SqliteDb::Error(const std::string& what) const {
  return SqliteError(db_, what);
}

// SQLite rolls a transaction back by itself after some errors (a full disk, an I/O
// error), and then ROLLBACK fails harmlessly; only a transaction left open matters.
void SqliteDb::Rollback() {
  Status rolled_back = Exec("ROLLBACK");
  if (!rolled_back.ok() && sqlite3_get_autocommit(db_) == 0)
    IMGSEARCH_LOG_ERROR("a transaction could not be rolled back: {}", rolled_back.ToString());
}

Status SqliteDb::Exec(const std::string& sql) {
  char* message = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
  sqlite3_free(message);
  return rc == SQLITE_OK ? Status::Ok() : Error("\"" + sql.substr(0, 60) + "\"");
}

Result<Statement> SqliteDb::Prepare(const std::string& sql) {
  for (size_t i = kept_.size(); i-- > 0;) {
    if (kept_[i].first == sql) {
      sqlite3_stmt* kept = kept_[i].second;
      kept_.erase(kept_.begin() + std::ptrdiff_t(i));
      return Statement(kept, this);
    }
  }
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                         &stmt, nullptr) != SQLITE_OK) {
    return Error("prepare \"" + sql.substr(0, 60) + "\"");
  }
  return Statement(stmt, this);
}

}  // namespace imgsearch::store
