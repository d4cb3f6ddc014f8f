// FaultVfs: an SQLite VFS that passes every call to SQLite's default VFS, except that
// opening, reading, writing, truncating, syncing and deleting files first ask a
// FaultPlan, and fail as the plan says (SQLITE_FULL for ENOSPC, an SQLITE_IOERR_* code
// otherwise). Registered under a unique name for as long as the object lives; every
// database opened through it must be closed first. Thread-safe, as the plan is.
#pragma once

#include <sqlite3.h>

#include <string>

#include "store/testing/fault_plan.h"

namespace imgsearch::store::testing {

class FaultVfs {
 public:
  explicit FaultVfs(FaultPlan* plan);
  ~FaultVfs();
  FaultVfs(const FaultVfs&) = delete;
  FaultVfs& operator=(const FaultVfs&) = delete;

  const char* name() const { return name_.c_str(); }

  // For the C callbacks: the VFS calls pass through these.
  sqlite3_vfs* real() const { return real_; }
  FaultPlan* plan() const { return plan_; }

 private:
  FaultPlan* plan_;
  sqlite3_vfs* real_;
  std::string name_;
  sqlite3_vfs vfs_{};
};

}  // namespace imgsearch::store::testing
