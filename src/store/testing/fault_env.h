// FaultInjectionEnv: an Env over another (normally Env::Default()) whose file operations
// fail when its FaultPlan says, and which can then simulate a crash. As leveldb's
// fault-injection Env, it tracks what a crash could still undo: a file renamed into place
// or removed is durable only once its folder is synced, and DropUnsyncedData() puts such
// files back as they were. A failing write leaves half of its bytes in the temporary
// file, as a real one can. SQLite's I/O goes through the same plan (FaultVfs), though a
// crash there is left to SQLite's own journal (and to the tests that kill processes).
// Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <optional>

#include "base/env.h"
#include "store/testing/fault_plan.h"
#include "store/testing/fault_vfs.h"

namespace imgsearch::store::testing {

class FaultInjectionEnv final : public base::Env {
 public:
  explicit FaultInjectionEnv(base::Env* target) : target_(target), vfs_(&plan_) {}

  FaultPlan& plan() { return plan_; }

  // Simulates a crash: every file renamed into place or removed since its folder was
  // last synced is put back as it was before (or removed, if it did not exist).
  Status DropUnsyncedData();

  Result<std::string> ReadFile(const std::string& path, uint64_t max_bytes) override;
  // Fails as a read of `path` would ("read PATH" in the plan).
  Result<std::unique_ptr<base::MappedFile>> MapFile(const std::string& path) override;
  Status WriteFileAtomic(const std::string& path, const std::string& contents) override;
  Result<uint64_t> FileSize(const std::string& path) override { return target_->FileSize(path); }
  bool FileExists(const std::string& path) override { return target_->FileExists(path); }
  Result<base::FileStat> Stat(const std::string& path) override { return target_->Stat(path); }
  Result<std::unique_ptr<base::FileWatch>> NewFileWatch() override {
    return target_->NewFileWatch();
  }
  Status RemoveFile(const std::string& path) override;
  Status CreateDirs(const std::string& path) override;
  Result<std::vector<std::string>> ListDir(const std::string& path) override;
  Result<std::unique_ptr<base::FileLock>> LockFile(const std::string& path, bool wait) override;
  const char* SqliteVfsName() const override { return vfs_.name(); }

 private:
  // Records `path`'s current contents (or absence) as what a crash would bring back,
  // unless an earlier unsynced change already did.
  void RememberBeforeChange(const std::string& path);
  // The folder of `path` was synced: its renames and removals are durable.
  void ForgetSyncedIn(const std::string& path);

  base::Env* const target_;
  FaultPlan plan_;
  FaultVfs vfs_;
  std::mutex mutex_;
  std::map<std::string, std::optional<std::string>> unsynced_;  // path -> before
};

}  // namespace imgsearch::store::testing
