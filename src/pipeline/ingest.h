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

// The database counter that hands out image ids, the same in every model's collection.
inline constexpr const char* kImageIdCounter = "image_id";

// Safe to run in several processes on one database at once: ids are handed out inside
// each chunk's transaction, and a path another process added meanwhile keeps its id.
Result<IngestReport> Ingest(Database& db, std::vector<BoundModel>& models,
                            const IngestOptions& options);

// Removes images from every model's collection in one transaction. Returns how many of
// the ids were present.
Result<int64_t> RemoveImages(Database& db, const std::vector<BoundModel>& models,
                             const std::vector<int64_t>& ids);

// The extensions a scan considers images (the decoder itself trusts only magic bytes).
bool LooksLikeImageFile(const std::string& path);

// 64-bit FNV-1a of a file's bytes as 16 hex digits: equal files, equal hashes.
std::string ContentHash(std::string_view bytes);

}  // namespace imgsearch::pipeline
