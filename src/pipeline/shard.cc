#include "pipeline/shard.h"

#include <filesystem>

namespace imgsearch::pipeline {
namespace {

namespace fs = std::filesystem;

// FNV-1a, then splitmix64's finaliser so that paths differing in one character spread
// over every share.
uint64_t PathHash(const std::string& text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

}  // namespace

Status CheckShard(const Shard& shard) {
  if (shard.count < 1 || shard.index < 0 || shard.index >= shard.count) {
    return Status::InvalidArgument("shard " + std::to_string(shard.index) + "/" +
                                   std::to_string(shard.count) +
                                   ": expected I/N with 0 <= I < N (machine I of N, from 0)");
  }
  return Status::Ok();
}

int ShareOf(const std::string& relative_path, int count) {
  return static_cast<int>(PathHash(relative_path) % static_cast<uint64_t>(count));
}

std::string NormalRoot(const std::string& folder) {
  std::string path = fs::absolute(folder).lexically_normal().string();
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

std::vector<std::string> NormalRoots(const std::vector<std::string>& folders) {
  std::vector<std::string> roots;
  for (const std::string& folder : folders) roots.push_back(NormalRoot(folder));
  return roots;
}

std::optional<std::string> RelativeToRoots(const std::string& path,
                                           const std::vector<std::string>& roots) {
  for (const std::string& root : roots) {
    if (path == root) return fs::path(path).filename().string();
    std::string prefix = root == "/" ? root : root + "/";
    if (path.rfind(prefix, 0) == 0) return path.substr(prefix.size());
  }
  return std::nullopt;
}

bool InShare(const std::string& path, const std::vector<std::string>& roots, const Shard& shard) {
  if (shard.all()) return true;
  std::optional<std::string> relative = RelativeToRoots(path, roots);
  return relative && ShareOf(*relative, shard.count) == shard.index;
}

}  // namespace imgsearch::pipeline
