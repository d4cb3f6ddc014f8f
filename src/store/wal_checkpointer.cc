#include "store/wal_checkpointer.h"

#include "base/log.h"

namespace imgsearch::store {

WalCheckpointer::WalCheckpointer(SqliteDb* writer, std::string path, const char* vfs)
    : writer_(writer), path_(std::move(path)), vfs_(vfs) {
  hook_ = [this](int wal_pages) { AfterCommit(wal_pages); };
  writer_->SetWalHook(&hook_);
}

WalCheckpointer::~WalCheckpointer() {
  writer_->SetWalHook(nullptr);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int64_t WalCheckpointer::checkpoints() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return checkpoints_;
}

// On the committing thread, inside its commit.
void WalCheckpointer::AfterCommit(int wal_pages) {
  if (wal_pages >= kInlinePages) {
    Status done = writer_->CheckpointPassive();
    if (!done.ok()) IMGSEARCH_LOG_WARN("{}", done.ToString());
    return;
  }
  if (wal_pages < kBackgroundPages) return;
  // The thread and its connection start with the first checkpoint due: a process that
  // only reads, or writes little, never pays for them.
  if (!thread_.joinable()) {
    Result<std::unique_ptr<SqliteDb>> own = SqliteDb::Open(path_, false, vfs_);
    if (!own.ok()) {  // checkpointed here then, as SQLite would have
      IMGSEARCH_LOG_WARN("{}", own.status().ToString());
      Status done = writer_->CheckpointPassive();
      if (!done.ok()) IMGSEARCH_LOG_WARN("{}", done.ToString());
      return;
    }
    own_ = std::move(own).value();
    thread_ = std::thread([this] { Loop(); });
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    due_ = true;
  }
  wake_.notify_one();
}

void WalCheckpointer::Loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return due_ || stop_; });
    if (stop_) return;
    due_ = false;
    lock.unlock();
    // A failure leaves the pages in the WAL, where readers find them: the next commit
    // past the threshold tries again.
    Status done = own_->CheckpointPassive();
    if (!done.ok()) IMGSEARCH_LOG_WARN("{}", done.ToString());
    lock.lock();
    ++checkpoints_;
  }
}

}  // namespace imgsearch::store
