// FaultPlan: which I/O call fails, shared by FaultInjectionEnv and its SQLite VFS so that
// one count walks every file operation of the store, its own files and SQLite's alike.
// Thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

namespace imgsearch::store::testing {

class FaultPlan {
 public:
  // Counting restarts: the nth fault point from now on (1 = the next) fails with `error`
  // (an errno: EIO, ENOSPC). With `sticky`, every later one fails too, as a full disk does.
  void FailAt(int64_t nth, int error, bool sticky = false);
  // No more failures; counting restarts.
  void Disarm() { FailAt(0, 0); }

  // Called by every fault point, naming the call ("write /x/imgsearch.db-wal"): 0 to go
  // ahead, or the errno the call fails with.
  int Check(const std::string& call);

  // Fault points passed since the last FailAt, failed or not.
  int64_t calls() const;
  // Whether a call has failed since the last FailAt, and which was the first.
  bool fired() const;
  std::string first_failed_call() const;

 private:
  mutable std::mutex mutex_;
  int64_t fail_at_ = 0;  // 0: never
  int error_ = 0;
  bool sticky_ = false;
  int64_t calls_ = 0;
  std::string first_failed_;
};

}  // namespace imgsearch::store::testing
