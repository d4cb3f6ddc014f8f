// The files a watcher has heard of and not yet handed to the library, and when each one is
// ready (WatchOptions: quiet after a close, settled when no close was seen, a writer that
// never closes). Time is passed in as seconds on a steady clock, so tests drive it. Not
// thread-safe: the watcher holds its lock around every call.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/env.h"
#include "imgsearch/watch.h"

namespace imgsearch::pipeline {

struct ReadyFiles {
  std::vector<std::string> index;         // complete image files
  std::vector<std::string> removed;       // paths gone: their images go
  std::vector<std::string> removed_dirs;  // folders gone: the images under them go
  bool empty() const { return index.empty() && removed.empty() && removed_dirs.empty(); }
};

class PendingFiles {
 public:
  using StatFunction = std::function<Result<base::FileStat>(const std::string&)>;

  explicit PendingFiles(const WatchOptions& options) : options_(options) {}

  // A notification about a file (folders: only kRemoved, so that the images under it go).
  void Heard(const base::WatchEvent& event, double now);
  // A file found by a scan, new or changed against the library: it must settle.
  void Found(const std::string& path, double now);
  // Whether a writer may still have `path` open (written to, no close seen since).
  bool BeingWritten(const std::string& path) const;

  // Takes out what is ready at `now`, looking at each path quiet for long enough through
  // `stat`: at most `max_files` files to index, and every path found gone. Paths that are
  // neither image files nor gone are dropped.
  ReadyFiles TakeReady(double now, const StatFunction& stat, size_t max_files);

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    bool open_writer = false;    // written to, not closed since
    bool needs_settle = false;   // no notification said it is complete
    bool was_directory = false;  // removed as a folder
    double last_event = 0;
    bool seen = false;  // size and mtime looked at
    int64_t size = 0;
    int64_t mtime_ns = 0;
    double stable_since = 0;  // when size and mtime were last seen to change
  };
  enum class Verdict { kWait, kIndex, kRemoved, kDrop };
  Verdict Judge(const std::string& path, Entry& entry, double now, const StatFunction& stat) const;

  const WatchOptions options_;
  std::map<std::string, Entry> entries_;
};

}  // namespace imgsearch::pipeline
