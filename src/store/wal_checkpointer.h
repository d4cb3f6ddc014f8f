// WalCheckpointer: copies committed pages from SQLite's write-ahead log into the database
// file on a thread of its own, instead of on the thread that committed.
//
// A commit is durable once its pages are in the WAL and the WAL is synced
// (synchronous=FULL); the copy into the database file (a checkpoint) is housekeeping
// that SQLite by default does inside the commit that takes the WAL past 1,000 pages, so
// every large write (a 5,000-row insert of 512-d vectors is 1,300 pages of 8 KB) paid for
// writing its pages twice and syncing both files before it returned. Here the writer's
// commit wakes this thread instead, which checkpoints through a connection of its own
// (PASSIVE: it never blocks readers or writers). Should the WAL still grow to
// kInlinePages (a writer that never pauses), the committing thread checkpoints itself,
// as SQLite would have. Thread-safe; the writer connection must outlive this object.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "store/sqlite.h"

namespace imgsearch::store {

class WalCheckpointer {
 public:
  // The WAL size in pages from which a commit wakes the thread (SQLite's own threshold),
  // and from which the committing thread checkpoints by itself.
  static constexpr int kBackgroundPages = 1000;
  static constexpr int kInlinePages = 8 * kBackgroundPages;

  // Takes over `writer`'s checkpoints; the thread and its own connection to the database
  // at `path` (through `vfs`) start when the first checkpoint is due.
  WalCheckpointer(SqliteDb* writer, std::string path, const char* vfs);
  // Gives `writer` its own checkpoints back and stops the thread (after the checkpoint
  // under way, if any).
  ~WalCheckpointer();
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // Checkpoints done by the thread so far (for tests).
  int64_t checkpoints() const;

 private:
  void AfterCommit(int wal_pages);
  void Loop();

  SqliteDb* const writer_;
  const std::string path_;
  const char* const vfs_;
  std::unique_ptr<SqliteDb> own_;  // the thread's, opened with it
  SqliteDb::WalHook hook_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool due_ = false;
  bool stop_ = false;
  int64_t checkpoints_ = 0;
  std::thread thread_;
};

}  // namespace imgsearch::store
