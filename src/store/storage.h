// Storage: what the collections of one database share: the SQLite connections, the lock
// that admits one writer at a time, and the MANIFEST naming the current index snapshots.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "store/sqlite.h"

namespace imgsearch::store {

// The MANIFEST file: which snapshot file is current for each collection id. Written
// whole, atomically (temp, fsync, rename, fsync directory). Thread-safe.
class Manifest {
 public:
  explicit Manifest(std::string path) : path_(std::move(path)) {}
  // Reads the file; a missing file is an empty manifest, a damaged one an error.
  Status Load();
  std::string Get(int64_t collection_id) const;
  // Records (or, with an empty name, removes) a collection's snapshot and writes the file.
  Status Set(int64_t collection_id, const std::string& snapshot_file);

 private:
  Status Write() const;
  std::string path_;
  mutable std::mutex mutex_;
  std::map<int64_t, std::string> snapshots_;
};

struct Storage {
  std::string dir;
  std::unique_ptr<SqliteDb> writer;  // used only under write_mutex
  std::unique_ptr<SqliteDb> reader;  // WAL: sees committed data only, never waits for writers
  std::mutex write_mutex;
  std::unique_ptr<Manifest> manifest;
  std::string IndexDir() const { return dir + "/index"; }
};

}  // namespace imgsearch::store
