// Watcher: keeps a library in step with folders. New, changed, moved and removed image
// files are indexed or removed within seconds of the change (inotify on Linux), in
// batches through Library::Index; a periodic light rescan catches what notification
// misses (a lost queue, network file systems, more folders than the system lets us
// watch), and a rescan at start catches up with what changed while nothing watched.
// A file is read only once it is complete: closed by its writer, or for a file no event
// told about, its size and modification time unchanged for WatchOptions::settle_seconds.
//
// Thread-safe: stats() and Stop() may be called from any thread while it runs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "imgsearch/library.h"
#include "imgsearch/status.h"

namespace imgsearch {

struct WatchOptions {
  std::vector<std::string> folders;  // watched with everything inside them
  // A file no event said was closed (found by a rescan, or written on a network file
  // system) is read once its size and mtime stayed the same this long.
  double settle_seconds = 1.0;
  // A file a writer closed (or renamed into place) is read once no change touched it for
  // this long: a burst of copies becomes one batch. A file gone waits twice as long, so
  // that a rename's new name is indexed (keeping the image) before the old one is removed.
  double quiet_seconds = 0.2;
  // A file still open for writing is read anyway once unchanged this long (a writer that
  // never closes).
  double open_writer_seconds = 30;
  // The light rescan that catches what notification missed: every rescan_seconds while
  // every folder is watched, every poll_seconds while some are not (a network file system,
  // no watches left). 0: never.
  double rescan_seconds = 600;
  double poll_seconds = 10;
  bool catch_up = true;  // rescan at start (off when the caller has just indexed)
  // The most folders to watch (0: as many as the system allows); the rest are polled.
  size_t max_watches = 0;
  size_t batch_files = 512;  // files per Library::Index call
};

// What the watcher did since it started.
struct WatchStats {
  uint64_t indexed = 0;    // files added or updated
  uint64_t removed = 0;    // images removed because their file went away
  uint64_t moved = 0;      // images whose file was renamed or moved (kept, not embedded)
  uint64_t failed = 0;     // files that could not be read or decoded, failed batches
  uint64_t pending = 0;    // files waiting to settle or to be indexed
  uint64_t batches = 0;    // Index calls and removals made
  uint64_t rescans = 0;    // full rescans of the folders (start, periodic, fallback)
  uint64_t overflows = 0;  // times the notification queue overflowed (then: a rescan)
  uint64_t unwatched = 0;  // folders left to rescans (no watch possible)
  uint64_t watched = 0;    // folders watched by notification
  bool caught_up = false;  // the start's rescan is done
};

class Watcher {
 public:
  // Starts watching in a thread of its own; `library` must outlive the watcher. Fails when
  // a folder does not exist. The catch-up rescan runs in the background: see
  // WatchStats::caught_up.
  static Result<std::unique_ptr<Watcher>> Start(Library& library, const WatchOptions& options);
  virtual ~Watcher() = default;  // stops it

  virtual WatchStats stats() const = 0;
  // Stops watching: a batch being indexed stops at its next chunk (what was written is
  // committed); returns once the threads are gone. Safe to call twice.
  virtual void Stop() = 0;
};

}  // namespace imgsearch
