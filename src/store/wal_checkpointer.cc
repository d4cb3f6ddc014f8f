#include "store/wal_checkpointer.h"

#include "base/log.h"

namespace imgsearch::store {

Result<std::unique_ptr<WalCheckpointer>> WalCheckpointer::Start(SqliteDb* writer,
                                                                const std::string& path,
                                                                const char* vfs) {
  IMGSEARCH_ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> own, SqliteDb::Open(path, false, vfs));
  return std::unique_ptr<WalCheckpointer>(new WalCheckpointer(writer, std::move(own)));
}

WalCheckpointer::WalCheckpointer(SqliteDb* writer, std::unique_ptr<SqliteDb> own)
    : writer_(writer), own_(std::move(own)) {
  hook_ = [this](int wal_pages) { AfterCommit(wal_pages); };
  thread_ = std::thread([this] { Loop(); });
  writer_->SetWalHook(&hook_);
}

WalCheckpointer::~WalCheckpointer() {
  writer_->SetWalHook(nullptr);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
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
