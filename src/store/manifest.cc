#include <nlohmann/json.hpp>

#include "base/env.h"
#include "base/json.h"
#include "store/storage.h"

namespace imgsearch::store {

constexpr const char* kManifestMagic = "imgsearch-manifest";
constexpr int kManifestVersion = 1;

Status Manifest::Load() {
  if (!env_->FileExists(path_)) return Status::Ok();
  IMGSEARCH_ASSIGN_OR_RETURN(std::string text, env_->ReadFile(path_, 64 << 20));
  auto parsed = base::ParseJson(text);
  const nlohmann::json j = parsed.ok() ? std::move(parsed).value() : nlohmann::json();
  if (!j.is_object() || j.value("magic", "") != kManifestMagic) {
    return Status::Corruption(path_ + ": not an imgsearch MANIFEST");
  }
  if (j.value("version", 0) != kManifestVersion) {
    return Status::Unsupported(path_ + ": MANIFEST version " +
                               j.value("version", nlohmann::json()).dump());
  }
  std::lock_guard<std::mutex> lock(mutex_);
  snapshots_.clear();
  const nlohmann::json snapshots = j.value("snapshots", nlohmann::json::object());
  for (const auto& [id, file] : snapshots.items()) {
    if (!file.is_string() || id.empty() ||
        id.find_first_not_of("0123456789") != std::string::npos) {
      return Status::Corruption(path_ + ": malformed snapshot entry");
    }
    snapshots_[std::stoll(id)] = file.get<std::string>();
  }
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
  nlohmann::json snapshots = nlohmann::json::object();
  for (const auto& [id, file] : snapshots_) snapshots[std::to_string(id)] = file;
  nlohmann::json j = {
      {"magic", kManifestMagic}, {"version", kManifestVersion}, {"snapshots", snapshots}};
  return env_->WriteFileAtomic(path_, j.dump(1) + "\n");
}

}  // namespace imgsearch::store
