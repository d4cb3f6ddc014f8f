// The library's images collection: one row per image (its file's path, size and mtime,
// content hash, width, height and the user's fields) under the id that every model's
// collection stores the image's vector by. Path and content hash are indexed, so finding
// an image by either costs the same in a library of a thousand or a million images.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "imgsearch/library.h"

namespace imgsearch::pipeline {

inline constexpr const char* kImagesCollection = kImagesCollectionName;
// The database counter that hands out image ids.
inline constexpr const char* kImageIdCounter = "image_id";

// Every collection has a vector field; the images collection's is the content hash as 64
// bits (BIN_FLAT, HAMMING), so identical files are also neighbours at distance 0.
CollectionSchema ImagesSchema();
// The images collection, created when missing.
Result<std::shared_ptr<Collection>> OpenImages(Database& db);

Row ImageRow(const ImageInfo& image);
ImageInfo ImageFromRow(const Row& row);
// The output fields that ImageFromRow reads.
const std::vector<std::string>& ImageFieldNames();

// Filters "FIELD in [...]" over `values`, a few hundred values each (quoted), so that a
// long list is looked up in batches of short filters.
std::vector<std::string> InFilters(const std::string& field,
                                   const std::vector<std::string>& values);

// The images stored under these paths, by path (absent ones left out); through the path
// index, in batches.
Result<std::map<std::string, ImageInfo>> ImagesByPath(const Collection& images,
                                                      const std::vector<std::string>& paths);
// The images holding files with these content hashes, by hash (several images may hold
// the same bytes); through the hash index, in batches.
Result<std::multimap<std::string, ImageInfo>> ImagesByHash(const Collection& images,
                                                           const std::vector<std::string>& hashes);
// The images with these ids, by id.
Result<std::map<int64_t, ImageInfo>> ImagesById(const Collection& images,
                                                const std::vector<int64_t>& ids);
// For each (content hash, id): whether an image with a smaller id holds the same bytes.
// Through the hash index, one query per few hundred hashes (over Milvus, each query waits
// for Strong consistency: one per chunk, not one per image).
Result<std::vector<bool>> HaveEarlierCopies(
    const Collection& images, const std::vector<std::pair<std::string, int64_t>>& hash_ids);

// 64-bit FNV-1a of a file's bytes as 16 hex digits: equal files, equal hashes.
std::string ContentHash(std::string_view bytes);

}  // namespace imgsearch::pipeline
