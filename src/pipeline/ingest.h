// Ingest: brings a database up to date with folders of images. Each image is read and
// decoded once and feeds every model; decoding runs on worker threads one chunk ahead of
// inference. Incremental (unchanged files are skipped by path, size and mtime; changed
// files are re-embedded under their id), resumable (every chunk commits; a rerun after a
// kill continues), and a bad file is reported, never fatal.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/env.h"
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
// The image files are found and read through `env`.
Result<IngestReport> Ingest(base::Env* env, Database& db, const Collection& images,
                            std::vector<BoundModel>& models, const IngestOptions& options);

// Removes images from the images collection and every model's in one transaction.
// Returns how many of the ids were present.
Result<int64_t> RemoveImages(Database& db, const std::vector<BoundModel>& models,
                             const std::vector<int64_t>& ids);

// The extensions a scan considers images (the decoder itself trusts only magic bytes).
bool LooksLikeImageFile(const std::string& path);

// Whether `path` is gone for sure (not found; any other error leaves its image alone).
bool FileGone(base::Env* env, const std::string& path);

// Walks the folder tree under `root` (a folder, in NormalRoot's form) through `env`, depth
// first: `folder` is told of each folder, the root first, and returns false to stop the
// walk; `file` of each regular file whose name looks like an image. A folder reached
// through a symbolic link is not entered, since a link can lead back up the tree; a file
// reached through one is taken. Returns the folders that could not be listed, and why.
std::vector<IngestFailure> WalkImageFiles(
    base::Env* env, const std::string& root, const std::function<bool(const std::string&)>& folder,
    const std::function<void(const std::string&, const base::FileStat&)>& file);

}  // namespace imgsearch::pipeline
