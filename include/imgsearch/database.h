// Database: a folder holding collections (imgsearch.db, SQLite, the source of truth,
// plus index snapshots under index/). Thread-safe. Collections stay valid while any
// caller holds them, even if dropped meanwhile (then their writes fail).
//
// Many processes may open one database at once, each reading and writing. Writes are
// applied one at a time across all of them; ids and change numbers are allocated inside
// the write, never from a process's memory. Every read (search, query, get, listing the
// collections) first takes in whatever other processes committed before it began.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "imgsearch/collection.h"

namespace imgsearch {

// The writes of one Database::Transact call. Used only inside the body, on its thread.
// Reads through the collections inside the body see everything committed before the
// transaction began, by any process, but not the transaction's own writes.
class Transaction {
 public:
  virtual ~Transaction() = default;
  // As Collection::Insert / Upsert / Delete, by collection name.
  virtual Result<std::vector<int64_t>> Insert(const std::string& collection,
                                              std::vector<Row> rows) = 0;
  virtual Result<std::vector<int64_t>> Upsert(const std::string& collection,
                                              std::vector<Row> rows) = 0;
  virtual Result<int64_t> Delete(const std::string& collection,
                                 const std::vector<int64_t>& ids) = 0;
  // Takes `count` consecutive values of the named counter, shared by every process that
  // opens the database and never handed out twice; the first is at least `at_least`.
  // Returns the first.
  virtual Result<int64_t> TakeIds(const std::string& counter, int64_t count,
                                  int64_t at_least = 1) = 0;
  // Small named values kept with the collections (a library's list of models). Read and
  // written inside the transaction, a read-modify-write is atomic across processes.
  virtual Result<std::optional<std::string>> GetSetting(const std::string& key) = 0;
  virtual Status PutSetting(const std::string& key, const std::string& value) = 0;
};

struct DatabaseOptions {
  bool create_if_missing = true;
  // Write an index snapshot after this many changes (0: only on Flush and close).
  int64_t snapshot_every_changes = 100000;
};

class Database {
 public:
  // Opens (or creates) the database in `dir`. Index snapshots are loaded and brought up
  // to date from the rows; a missing or damaged snapshot is rebuilt with a warning. A new
  // database is created only in a missing or empty folder: a folder holding other files
  // is refused, so that imgsearch never mixes its files into someone else's.
  static Result<std::unique_ptr<Database>> Open(const std::string& dir,
                                                const DatabaseOptions& options = {});
  virtual ~Database() = default;

  // Creates a collection; its index starts as `index` (default FLAT, L2).
  virtual Status CreateCollection(const CollectionSchema& schema, const IndexSpec& index) = 0;
  virtual Status DropCollection(const std::string& name) = 0;
  virtual Status RenameCollection(const std::string& from, const std::string& to) = 0;
  virtual std::vector<std::string> ListCollections() const = 0;
  virtual bool HasCollection(const std::string& name) const = 0;
  virtual Result<std::shared_ptr<Collection>> GetCollection(const std::string& name) const = 0;

  // Runs `body` as one write transaction over any of the collections: when it returns OK
  // and the commit succeeds, all of its writes are durable and visible together; when it
  // fails (its Status is returned) or the process dies, none are. Other writers, in any
  // process, wait while it runs, so keep it short.
  virtual Status Transact(const std::function<Status(Transaction&)>& body) = 0;
  // A setting as last committed by any process (see Transaction::PutSetting).
  virtual Result<std::optional<std::string>> GetSetting(const std::string& key) const = 0;
};

}  // namespace imgsearch
