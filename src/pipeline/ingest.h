// Ingest: brings a database up to date with folders of images. Each image is read and
// decoded once and feeds every model; decoding runs on worker threads one chunk ahead of
// inference. Incremental (unchanged files are skipped by path, size and mtime; changed
// files are re-embedded under their id), resumable (every chunk commits; a rerun after a
// kill continues), and a bad file is reported, never fatal.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "imgsearch/library.h"
#include "pipeline/model_set.h"

namespace imgsearch::pipeline {

// The public names of what indexing takes and gives (imgsearch/library.h).
using IngestProgress = IndexProgress;
using IngestOptions = IndexOptions;
using IngestFailure = IndexFailure;
using IngestReport = IndexReport;

// Safe to run in several processes on one database at once: ids are handed out inside
// each chunk's transaction, and a path another process added meanwhile keeps its id.
// `images` is the library's images collection (images.h).
Result<IngestReport> Ingest(Database& db, const Collection& images, std::vector<BoundModel>& models,
                            const IngestOptions& options);

// Removes images from the images collection and every model's in one transaction.
// Returns how many of the ids were present.
Result<int64_t> RemoveImages(Database& db, const std::vector<BoundModel>& models,
                             const std::vector<int64_t>& ids);

// The extensions a scan considers images (the decoder itself trusts only magic bytes).
bool LooksLikeImageFile(const std::string& path);

}  // namespace imgsearch::pipeline
