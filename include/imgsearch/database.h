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
  // Returns the first. A store without counters (Milvus) answers Unsupported: callers
  // then derive ids that cannot collide without one (see doc/milvus-store.md).
  virtual Result<int64_t> TakeIds(const std::string& counter, int64_t count,
                                  int64_t at_least = 1) = 0;
  // Small named values kept with the collections (a library's list of models). Read and
  // written inside the transaction, a read-modify-write is atomic across processes.
  virtual Result<std::optional<std::string>> GetSetting(const std::string& key) = 0;
  virtual Status PutSetting(const std::string& key, const std::string& value) = 0;
};

// How to reach a Milvus 2.4/2.5 server used as the store (doc/milvus-store.md).
struct MilvusOptions {
  // Bearer token: "user:password" or an API key. Empty: the environment variable
  // IMGSEARCH_MILVUS_TOKEN when set, else none.
  std::string token;
  std::string database;  // the Milvus database; empty: Milvus's "default"
  // The index of float-vector collections created here: HNSW (default), IVF_FLAT,
  // IVF_SQ8, FLAT, DISKANN or AUTOINDEX, with the metric of the model.
  std::string float_index;
  double request_timeout_seconds = 60;
  // Tries per request on time-outs, 5xx answers and Milvus's rate-limit codes, with
  // exponential backoff starting at `first_backoff_seconds`.
  int max_attempts = 6;
  double first_backoff_seconds = 0.2;
};

struct DatabaseOptions {
  bool create_if_missing = true;
  // Write an index snapshot after this many changes (0: only on Flush and close).
  int64_t snapshot_every_changes = 100000;
  // Copy committed pages from SQLite's write-ahead log into the database file on a
  // thread of its own rather than inside the commit that fills the log (a commit is
  // durable either way: its pages are in the synced log when it returns).
  bool checkpoint_in_background = true;
  MilvusOptions milvus;  // for a milvus:// location (OpenStore)
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

  // Runs `reads` (on this thread) as one look at the database: the reads inside (looking
  // collections up, settings, searches, queries) take in other processes' changes once,
  // as they stood when it began, rather than checking again at each read. For a request
  // of several short reads, which then pays one check and sees one state. A write
  // committed inside is seen by the reads after it. Exceptions from `reads` pass through.
  virtual void ReadTogether(const std::function<void()>& reads) const { reads(); }
};

// Whether `location` names a Milvus server: milvus://HOST:PORT or milvus+https://HOST:PORT.
bool IsMilvusLocation(const std::string& location);

// Opens the store at `location`: a folder (as Database::Open), or a Milvus 2.4/2.5 server
// reached over its REST v2 API (milvus://HOST:PORT, milvus+https://HOST:PORT for TLS).
// Over Milvus, Transact is best effort: its writes are sent in the order made, and one
// that fails leaves the earlier ones in place (Milvus has no transactions across
// collections); TakeIds is Unsupported. doc/milvus-store.md has the details.
Result<std::unique_ptr<Database>> OpenStore(const std::string& location,
                                            const DatabaseOptions& options = {});

}  // namespace imgsearch
