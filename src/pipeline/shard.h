// Shares of a folder tree for `index --shard I/N`: a file belongs to share
// hash(its path relative to the folder given) mod N, so machines that index the same
// folders with different I agree on the split without talking to each other, even when
// they mount the folders at different places.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "imgsearch/status.h"

namespace imgsearch::pipeline {

struct Shard {
  int index = 0;  // 0-based
  int count = 1;
  bool all() const { return count <= 1; }
};

Status CheckShard(const Shard& shard);

// Whether `path` (absolute, normal form) is in the share: it lies in one of `roots`
// (folders or files as given to index, in NormalRoots' form; the first one that holds it
// decides) and its path relative to that root hashes to shard.index.
bool InShare(const std::string& path, const std::vector<std::string>& roots, const Shard& shard);

// `folder` absolute and normal, without a trailing '/' (but "/" itself).
std::string NormalRoot(const std::string& folder);
// NormalRoot of each: once per run, not once per file looked at.
std::vector<std::string> NormalRoots(const std::vector<std::string>& folders);

// `path` (absolute, normal form) relative to the first of `roots` (folders or files, as
// given to index, in NormalRoots' form) that holds it; a root that is the file itself gives its
// name. Nothing when no root holds it.
std::optional<std::string> RelativeToRoots(const std::string& path,
                                           const std::vector<std::string>& roots);

// The share a path relative to its root belongs to, of `count`.
int ShareOf(const std::string& relative_path, int count);

}  // namespace imgsearch::pipeline
