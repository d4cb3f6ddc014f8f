#include <nlohmann/json.hpp>

#include "base/env.h"
#include "base/json.h"
#include "store/snapshot.h"
#include "store/storage.h"

namespace imgsearch::store {

constexpr const char* kManifestMagic = "imgsearch-manifest";
constexpr int kManifestVersion = 1;

namespace {

// A MANIFEST names its snapshots by the names SnapshotFileName gives them, never a path:
// the loader reads the named file and a newer snapshot deletes it, so a name such as
// "../../x" or "/dev/zero" must not pass.
bool IsSnapshotOf(int64_t collection_id, const std::string& file) {
  int64_t sequence = SnapshotSequenceOf(file);
  return sequence >= 0 && file == SnapshotFileName(collection_id, sequence);
}

Result<int64_t> CollectionIdOf(const std::string& key) {
  if (key.empty() || key.size() > 18 || key.find_first_not_of("0123456789") != std::string::npos)
    return Status::Corruption("malformed snapshot entry");
  return std::stoll(key);
}

}  // namespace

Result<ManifestEntries> ParseManifest(std::string_view text) {
  auto parsed = base::ParseJson(text);
  const nlohmann::json j = parsed.ok() ? std::move(parsed).value() : nlohmann::json();
  const auto magic = j.is_object() ? j.find("magic") : j.end();
  if (!j.is_object() || magic == j.end() || *magic != kManifestMagic) {
    return Status::Corruption("not an imgsearch MANIFEST");
  }
  const auto version = j.find("version");
  if (version == j.end() || !version->is_number_integer() || *version != kManifestVersion) {
    return Status::Unsupported("MANIFEST version " +
                               (version == j.end() ? std::string("null") : version->dump()));
  }
  ManifestEntries entries;
  const auto snapshots = j.find("snapshots");
  if (snapshots == j.end()) return entries;
  if (!snapshots->is_object()) return Status::Corruption("malformed snapshot list");
  for (const auto& [key, file] : snapshots->items()) {
    IMGSEARCH_ASSIGN_OR_RETURN(int64_t id, CollectionIdOf(key));
    if (!file.is_string() || !IsSnapshotOf(id, file.get<std::string>()))
      return Status::Corruption("malformed snapshot entry");
    entries[id] = file.get<std::string>();
  }
  return entries;
}

std::string ManifestText(const ManifestEntries& entries) {
  nlohmann::json snapshots = nlohmann::json::object();
  for (const auto& [id, file] : entries) snapshots[std::to_string(id)] = file;
  nlohmann::json j = {
      {"magic", kManifestMagic}, {"version", kManifestVersion}, {"snapshots", snapshots}};
  return j.dump(1) + "\n";
}

Status Manifest::Load() {
  if (!env_->FileExists(path_)) return Status::Ok();
  IMGSEARCH_ASSIGN_OR_RETURN(std::string text, env_->ReadFile(path_, 64 << 20));
  Result<ManifestEntries> entries = ParseManifest(text);
  if (!entries.ok()) return entries.status().WithContext(path_);
  std::lock_guard<std::mutex> lock(mutex_);
  snapshots_ = std::move(entries).value();
  return Status::Ok();
}

std::string Manifest::Get(int64_t collection_id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = snapshots_.find(collection_id);
  return it == snapshots_.end() ? std::string() : it->second;
}

Status Manifest::Set(int64_t collection_id, const std::string& snapshot_file) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (snapshot_file.empty()) {
    snapshots_.erase(collection_id);
  } else {
    snapshots_[collection_id] = snapshot_file;
  }
  return Write();
}

Status Manifest::Write() const {
  return env_->WriteFileAtomic(path_, ManifestText(snapshots_));
}

}  // namespace imgsearch::store
