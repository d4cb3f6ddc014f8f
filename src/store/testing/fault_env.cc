#include "store/testing/fault_env.h"

namespace imgsearch::store::testing {
namespace {

std::string FolderOf(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

constexpr uint64_t kMaxRemembered = uint64_t{1} << 32;

}  // namespace

Result<std::string> FaultInjectionEnv::ReadFile(const std::string& path, uint64_t max_bytes) {
  if (int error = plan_.Check("read " + path)) return base::ErrnoStatus("read failed", path, error);
  return target_->ReadFile(path, max_bytes);
}

Result<std::unique_ptr<base::MappedFile>> FaultInjectionEnv::MapFile(const std::string& path) {
  if (int error = plan_.Check("read " + path)) return base::ErrnoStatus("read failed", path, error);
  return target_->MapFile(path);
}

// The steps of the default Env's atomic write, each of which can fail: create the
// temporary file, write it, sync it, rename it over `path`, sync the folder.
Status FaultInjectionEnv::WriteFileAtomic(const std::string& path, const std::string& contents) {
  std::string temp = path + ".tmp";
  if (int error = plan_.Check("create " + temp))
    return base::ErrnoStatus("cannot create", temp, error);
  for (const char* step : {"write", "fsync"}) {
    if (int error = plan_.Check(std::string(step) + " " + temp)) {
      // What a failed write (or a crash before the data reached the disk) can leave.
      Status partial = target_->WriteFileAtomic(temp, contents.substr(0, contents.size() / 2));
      if (!partial.ok()) return partial;
      return base::ErrnoStatus(std::string(step) + " failed", temp, error);
    }
  }
  if (int error = plan_.Check("rename " + temp)) {
    Status whole = target_->WriteFileAtomic(temp, contents);
    if (!whole.ok()) return whole;
    return base::ErrnoStatus("rename failed", path, error);
  }
  RememberBeforeChange(path);
  IMGSEARCH_RETURN_IF_ERROR(target_->WriteFileAtomic(path, contents));
  if (int error = plan_.Check("fsync " + FolderOf(path)))
    return base::ErrnoStatus("fsync failed", FolderOf(path), error);
  ForgetSyncedIn(path);
  return Status::Ok();
}

Status FaultInjectionEnv::RemoveFile(const std::string& path) {
  if (int error = plan_.Check("unlink " + path))
    return base::ErrnoStatus("cannot remove", path, error);
  RememberBeforeChange(path);
  return target_->RemoveFile(path);
}

Status FaultInjectionEnv::CreateDirs(const std::string& path) {
  if (int error = plan_.Check("mkdir " + path))
    return base::ErrnoStatus("cannot create the folder", path, error);
  return target_->CreateDirs(path);
}

Result<std::vector<std::string>> FaultInjectionEnv::ListDir(const std::string& path) {
  if (int error = plan_.Check("opendir " + path))
    return base::ErrnoStatus("cannot list", path, error);
  return target_->ListDir(path);
}

Result<std::unique_ptr<base::FileLock>> FaultInjectionEnv::LockFile(const std::string& path,
                                                                    bool wait) {
  if (int error = plan_.Check("open " + path))
    return base::ErrnoStatus("cannot open the lock file", path, error);
  return target_->LockFile(path, wait);
}

void FaultInjectionEnv::RememberBeforeChange(const std::string& path) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (unsynced_.count(path) > 0) return;
  std::optional<std::string> before;
  if (target_->FileExists(path)) {
    auto contents = target_->ReadFile(path, kMaxRemembered);
    if (contents.ok()) before = std::move(contents).value();
  }
  unsynced_[path] = std::move(before);
}

void FaultInjectionEnv::ForgetSyncedIn(const std::string& path) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string folder = FolderOf(path);
  for (auto it = unsynced_.begin(); it != unsynced_.end();) {
    it = FolderOf(it->first) == folder ? unsynced_.erase(it) : std::next(it);
  }
}

Status FaultInjectionEnv::DropUnsyncedData() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [path, before] : unsynced_) {
    IMGSEARCH_RETURN_IF_ERROR(before ? target_->WriteFileAtomic(path, *before)
                                     : target_->RemoveFile(path));
  }
  unsynced_.clear();
  return Status::Ok();
}

}  // namespace imgsearch::store::testing
