// Ingest: brings a database up to date with folders of images. Each image is read and
// decoded once and feeds every model; decoding runs on worker threads one chunk ahead of
// inference. Incremental (unchanged files are skipped by path, size and mtime; changed
// files are re-embedded under their id), resumable (every chunk commits; a rerun after a
// kill continues), and a bad file is reported, never fatal.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "pipeline/model_set.h"

namespace imgsearch::pipeline {

struct IngestProgress {
  size_t done = 0;   // files handled so far (embedded, failed)
  size_t total = 0;  // files that need work
  double seconds = 0;
};

struct IngestOptions {
  std::vector<std::string> roots;  // folders (scanned recursively) or single files
  bool prune = false;              // remove rows whose file no longer exists
  size_t chunk = 32;               // files decoded per round
  int decode_threads = 1;
  std::function<void(const IngestProgress&)> on_progress;
};

struct IngestFailure {
  std::string path;
  std::string reason;
};

struct IngestReport {
  size_t scanned = 0;
  size_t added = 0;
  size_t updated = 0;
  size_t unchanged = 0;
  size_t pruned = 0;
  size_t duplicates = 0;  // files whose content equals an earlier file's
  std::vector<IngestFailure> failures;
  double seconds = 0;
};

Result<IngestReport> Ingest(std::vector<BoundModel>& models, const IngestOptions& options);

// The extensions a scan considers images (the decoder itself trusts only magic bytes).
bool LooksLikeImageFile(const std::string& path);

// 64-bit FNV-1a of a file's bytes as 16 hex digits: equal files, equal hashes.
std::string ContentHash(std::string_view bytes);

}  // namespace imgsearch::pipeline
