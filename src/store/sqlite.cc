#include "store/sqlite.h"

namespace imgsearch::store {
namespace {
// How long a writer waits for another process's write transaction before giving up.
constexpr int kBusyTimeoutMs = 10000;
}  // namespace

Statement& Statement::Bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}
Statement& Statement::Bind(int index, std::string_view text) {
  sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::BindBlob(int index, const void* data, size_t size) {
  sqlite3_bind_blob64(stmt_, index, data, size, SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::BindNull(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Result<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  sqlite3* db = sqlite3_db_handle(stmt_);
  int code = sqlite3_extended_errcode(db);
  std::string message = std::string("SQLite: ") + sqlite3_errmsg(db);
  if (code == SQLITE_FULL || code == SQLITE_IOERR || (code & 0xff) == SQLITE_IOERR)
    return Status::IOError(message);
  if ((code & 0xff) == SQLITE_CORRUPT) return Status::Corruption(message);
  return Status::Internal(message);
}

Status Statement::Run() {
  for (;;) {
    IMGSEARCH_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) break;
  }
  Reset();
  return Status::Ok();
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
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

Result<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path, bool create) {
  sqlite3* handle = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &handle, flags, nullptr);
  std::unique_ptr<SqliteDb> db(new SqliteDb(handle));
  if (rc != SQLITE_OK) {
    return Status::IOError(
        path + ": cannot open database: " + (handle ? sqlite3_errmsg(handle) : "out of memory"));
  }
  sqlite3_busy_timeout(handle, kBusyTimeoutMs);
  sqlite3_extended_result_codes(handle, 1);
  IMGSEARCH_RETURN_IF_ERROR(db->Exec("PRAGMA journal_mode=WAL").WithContext(path));
  IMGSEARCH_RETURN_IF_ERROR(db->Exec("PRAGMA synchronous=FULL"));
  IMGSEARCH_RETURN_IF_ERROR(db->Exec("PRAGMA foreign_keys=ON"));
  // Reads through a memory map rather than one pread per page.
  IMGSEARCH_RETURN_IF_ERROR(db->Exec("PRAGMA mmap_size=2147418112"));
  return db;
}

SqliteDb::~SqliteDb() {
  sqlite3_close_v2(db_);
}

Status SqliteDb::Error(const std::string& what) const {
  int code = sqlite3_extended_errcode(db_) & 0xff;
  std::string message = what + ": SQLite: " + sqlite3_errmsg(db_);
  if (code == SQLITE_BUSY) {
    return Status::IOError(
        "the database is busy: another process has held its write lock for "
        "over " +
        std::to_string(kBusyTimeoutMs / 1000) + " s (" + message + ")");
  }
  if (code == SQLITE_FULL || code == SQLITE_IOERR || code == SQLITE_CANTOPEN)
    return Status::IOError(message);
  if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB) return Status::Corruption(message);
  return Status::Internal(message);
}

Status SqliteDb::Exec(const std::string& sql) {
  char* message = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
  sqlite3_free(message);
  return rc == SQLITE_OK ? Status::Ok() : Error("\"" + sql.substr(0, 60) + "\"");
}

Result<Statement> SqliteDb::Prepare(const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                         &stmt, nullptr) != SQLITE_OK) {
    return Error("prepare \"" + sql.substr(0, 60) + "\"");
  }
  return Statement(stmt);
}

}  // namespace imgsearch::store
