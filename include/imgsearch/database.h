// Database: a folder holding collections (imgsearch.db, SQLite, the source of truth,
// plus index snapshots under index/). Thread-safe. Collections stay valid while any
// caller holds them, even if dropped meanwhile (then their writes fail).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "imgsearch/collection.h"

namespace imgsearch {

struct DatabaseOptions {
  bool create_if_missing = true;
  // Write an index snapshot after this many changes (0: only on Flush and close).
  int64_t snapshot_every_changes = 100000;
};

class Database {
 public:
  // Opens (or creates) the database in `dir`. Index snapshots are loaded and brought up
  // to date from the rows; a missing or damaged snapshot is rebuilt with a warning.
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
};

}  // namespace imgsearch
