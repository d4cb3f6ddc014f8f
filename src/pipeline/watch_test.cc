// The watcher's rules for when a file is ready (PendingFiles, on a clock the test drives),
// and its fallbacks to rescans: lost notifications (an Env that drops them and reports an
// overflow) and folders it may not watch (a limit of one watch).
#include "imgsearch/watch.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include "pipeline/watch.h"
#include "pipeline/watch_pending.h"
#include "store/filter.h"
#include "test_util.h"
#include "tiny_images.h"

namespace imgsearch {
namespace {

using base::FileStat;
using base::WatchEvent;
using Kind = base::WatchEvent::Kind;
using pipeline::PendingFiles;
using pipeline::ReadyFiles;
using testing::Eventually;
using testing::MakeTempDir;
using testing::MakeTinyImages;
using testing::ValueOrDie;

// Files as the pending list sees them through stat: path -> size (mtime follows size).
struct FakeDisk {
  std::map<std::string, int64_t> files;
  PendingFiles::StatFunction Stat() const {
    return [this](const std::string& path) -> Result<FileStat> {
      auto it = files.find(path);
      if (it == files.end()) return Status::NotFound(path);
      FileStat st;
      st.is_regular = true;
      st.size = it->second;
      st.mtime_ns = it->second * 1000;
      return st;
    };
  }
};

WatchOptions Rules() {
  WatchOptions options;
  options.quiet_seconds = 0.2;
  options.settle_seconds = 1.0;
  options.open_writer_seconds = 30;
  return options;
}

TEST(PendingFilesTest, AClosedFileIsReadyOnceQuiet) {
  PendingFiles pending(Rules());
  FakeDisk disk;
  disk.files["/p/a.jpg"] = 100;
  pending.Heard({Kind::kWritten, "/p/a.jpg", false}, 0.0);
  pending.Heard({Kind::kClosed, "/p/a.jpg", false}, 0.05);
  EXPECT_TRUE(pending.TakeReady(0.1, disk.Stat(), 100).empty());
  ReadyFiles ready = pending.TakeReady(0.3, disk.Stat(), 100);
  EXPECT_EQ(ready.index, std::vector<std::string>{"/p/a.jpg"});
  EXPECT_EQ(pending.size(), 0u);
}

// Written part-way and paused (longer than any settle time): not read until closed.
TEST(PendingFilesTest, AFileStillOpenWaitsForItsWriterToClose) {
  PendingFiles pending(Rules());
  FakeDisk disk;
  disk.files["/p/a.jpg"] = 50;
  pending.Heard({Kind::kWritten, "/p/a.jpg", false}, 0.0);
  for (double t : {0.5, 2.0, 5.0, 10.0})
    EXPECT_TRUE(pending.TakeReady(t, disk.Stat(), 100).empty()) << "at " << t << " s";
  disk.files["/p/a.jpg"] = 100;
  pending.Heard({Kind::kWritten, "/p/a.jpg", false}, 10.1);
  pending.Heard({Kind::kClosed, "/p/a.jpg", false}, 10.1);
  EXPECT_TRUE(pending.TakeReady(10.4, disk.Stat(), 100).empty());  // size changed: once more
  EXPECT_EQ(pending.TakeReady(10.5, disk.Stat(), 100).index.size(), 1u);
}

TEST(PendingFilesTest, AWriterThatNeverClosesIsReadAfterTheTimeout) {
  PendingFiles pending(Rules());
  FakeDisk disk;
  disk.files["/p/a.jpg"] = 50;
  pending.Heard({Kind::kWritten, "/p/a.jpg", false}, 0.0);
  EXPECT_TRUE(pending.TakeReady(1.0, disk.Stat(), 100).empty());
  EXPECT_TRUE(pending.TakeReady(30.0, disk.Stat(), 100).empty());
  EXPECT_EQ(pending.TakeReady(31.1, disk.Stat(), 100).index.size(), 1u);
}

// A file a rescan found (no event said it is complete) waits until its size and mtime
// stay the same for settle_seconds; a change starts the wait again.
TEST(PendingFilesTest, AFileFoundByARescanMustSettle) {
  PendingFiles pending(Rules());
  FakeDisk disk;
  disk.files["/p/a.jpg"] = 10;
  pending.Found("/p/a.jpg", 0.0);
  EXPECT_TRUE(pending.TakeReady(0.3, disk.Stat(), 100).empty());
  disk.files["/p/a.jpg"] = 20;
  EXPECT_TRUE(pending.TakeReady(0.9, disk.Stat(), 100).empty());
  EXPECT_TRUE(pending.TakeReady(1.5, disk.Stat(), 100).empty());  // 0.6 s since the change
  EXPECT_EQ(pending.TakeReady(2.0, disk.Stat(), 100).index.size(), 1u);
}

TEST(PendingFilesTest, RemovedFilesAndFoldersAndABurstInBatches) {
  PendingFiles pending(Rules());
  FakeDisk disk;
  pending.Heard({Kind::kRemoved, "/p/gone.jpg", false}, 0.0);
  pending.Heard({Kind::kRemoved, "/p/album", true}, 0.0);
  pending.Heard({Kind::kClosed, "/p/notes.txt", false}, 0.0);  // not an image: not pending
  for (int i = 0; i < 25; ++i) {
    std::string path = "/p/burst/" + std::to_string(i) + ".png";
    disk.files[path] = 10;
    pending.Heard({Kind::kMovedIn, path, false}, 0.0);
  }
  EXPECT_EQ(pending.size(), 27u);
  ReadyFiles first = pending.TakeReady(0.5, disk.Stat(), 10);
  EXPECT_EQ(first.index.size(), 10u);
  EXPECT_EQ(first.removed, (std::vector<std::string>{"/p/album", "/p/gone.jpg"}));
  EXPECT_EQ(first.removed_dirs, std::vector<std::string>{"/p/album"});
  EXPECT_EQ(pending.TakeReady(0.6, disk.Stat(), 10).index.size(), 10u);
  EXPECT_EQ(pending.TakeReady(0.7, disk.Stat(), 10).index.size(), 5u);
  EXPECT_EQ(pending.size(), 0u);
}

// The two halves of a rename, heard 0.15 s apart: the new name is ready first, the old
// one's removal only after twice the quiet time, never in an earlier batch.
TEST(PendingFilesTest, ARenamesNewNameIsReadyBeforeItsOldNameIsRemoved) {
  PendingFiles pending(Rules());
  FakeDisk disk;
  disk.files["/p/new.jpg"] = 100;
  pending.Heard({Kind::kRemoved, "/p/old.jpg", false}, 0.0);
  pending.Heard({Kind::kMovedIn, "/p/new.jpg", false}, 0.15);
  EXPECT_TRUE(pending.TakeReady(0.25, disk.Stat(), 100).empty());
  ReadyFiles first = pending.TakeReady(0.36, disk.Stat(), 100);
  EXPECT_EQ(first.index, std::vector<std::string>{"/p/new.jpg"});
  EXPECT_TRUE(first.removed.empty());
  EXPECT_EQ(pending.TakeReady(0.41, disk.Stat(), 100).removed,
            std::vector<std::string>{"/p/old.jpg"});
}

// --- the watcher over a library

bool Indexed(Library& library, const std::string& path) {
  auto ids = library.FindImages("path == " + store::QuoteFilterLiteral(path));
  return ids.ok() && ids->size() == 1;
}

// Drops every notification; reports an overflow when asked to.
class DroppingWatch final : public base::FileWatch {
 public:
  DroppingWatch(std::unique_ptr<base::FileWatch> real, std::atomic<bool>* overflow)
      : real_(std::move(real)), overflow_(overflow) {}
  Status Add(const std::string& dir) override { return real_->Add(dir); }
  void Remove(const std::string& dir) override { real_->Remove(dir); }
  size_t size() const override { return real_->size(); }
  bool Watching(const std::string& dir) const override { return real_->Watching(dir); }
  Status Wait(int timeout_ms, std::vector<WatchEvent>* events) override {
    std::vector<WatchEvent> dropped;
    Status waited = real_->Wait(std::min(timeout_ms, 50), &dropped);
    if (overflow_->exchange(false)) events->push_back({Kind::kOverflow, "", false});
    return waited;
  }
  void Wake() override { real_->Wake(); }

 private:
  std::unique_ptr<base::FileWatch> real_;
  std::atomic<bool>* overflow_;
};

class OverflowEnv final : public base::Env {
 public:
  std::atomic<bool> overflow{false};
  Env* real = Env::Default();
  Result<std::string> ReadFile(const std::string& p, uint64_t max) override {
    return real->ReadFile(p, max);
  }
  Status WriteFileAtomic(const std::string& p, const std::string& c) override {
    return real->WriteFileAtomic(p, c);
  }
  Result<uint64_t> FileSize(const std::string& p) override { return real->FileSize(p); }
  bool FileExists(const std::string& p) override { return real->FileExists(p); }
  Status RemoveFile(const std::string& p) override { return real->RemoveFile(p); }
  Status CreateDirs(const std::string& p) override { return real->CreateDirs(p); }
  Result<std::vector<std::string>> ListDir(const std::string& p) override {
    return real->ListDir(p);
  }
  Result<std::unique_ptr<base::FileLock>> LockFile(const std::string& p, bool wait) override {
    return real->LockFile(p, wait);
  }
  Result<FileStat> Stat(const std::string& p) override { return real->Stat(p); }
  Result<std::unique_ptr<base::FileWatch>> NewFileWatch() override {
    IMGSEARCH_ASSIGN_OR_RETURN(auto watch, real->NewFileWatch());
    return std::unique_ptr<base::FileWatch>(new DroppingWatch(std::move(watch), &overflow));
  }
};

WatchOptions Quick(const std::string& folder) {
  WatchOptions options;
  options.folders = {folder};
  options.settle_seconds = 0.3;
  options.rescan_seconds = 0;  // no periodic rescan: only the fallbacks under test
  options.poll_seconds = 0;
  return options;
}

// Lost notifications (IN_Q_OVERFLOW) are made good by a rescan: the file no event told of
// is indexed once the overflow is reported, and not before.
TEST(WatcherTest, AnOverflowFallsBackToARescan) {
  std::vector<std::string> photos = MakeTinyImages(2, 41);
  std::string folder = MakeTempDir() + "/watched";
  std::filesystem::create_directories(folder);
  auto library = ValueOrDie(Library::Open(MakeTempDir() + "/lib"));
  OverflowEnv env;
  auto watcher = ValueOrDie(pipeline::StartWatcher(*library, Quick(folder), &env));
  ASSERT_TRUE(Eventually([&] { return watcher->stats().caught_up; }));
  std::filesystem::copy_file(photos[0], folder + "/a.jpg");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_FALSE(Indexed(*library, folder + "/a.jpg")) << "the notification was not dropped";
  env.overflow = true;
  EXPECT_TRUE(Eventually([&] { return Indexed(*library, folder + "/a.jpg"); }));
  // The counters follow the library's write (the rescan counts once Index has returned).
  EXPECT_TRUE(Eventually([&] { return watcher->stats().indexed == 1; }));
  WatchStats stats = watcher->stats();
  EXPECT_EQ(stats.overflows, 1u);
  EXPECT_EQ(stats.rescans, 2u);  // the start's and the overflow's
  EXPECT_EQ(stats.indexed, 1u);
}

// With fewer watches than folders, the folders left over are polled by rescans (and the
// watched one still hears its changes at once).
TEST(WatcherTest, FoldersBeyondTheWatchLimitArePolled) {
  std::vector<std::string> photos = MakeTinyImages(2, 42);
  std::string folder = MakeTempDir() + "/watched";
  std::filesystem::create_directories(folder + "/inner");
  auto library = ValueOrDie(Library::Open(MakeTempDir() + "/lib"));
  WatchOptions options = Quick(folder);
  options.max_watches = 1;
  options.poll_seconds = 0.5;
  auto watcher = ValueOrDie(Watcher::Start(*library, options));
  ASSERT_TRUE(Eventually([&] { return watcher->stats().caught_up; }));
  EXPECT_EQ(watcher->stats().watched, 1u);
  EXPECT_EQ(watcher->stats().unwatched, 1u);
  std::filesystem::copy_file(photos[0], folder + "/inner/a.jpg");
  std::filesystem::copy_file(photos[1], folder + "/b.jpg");
  EXPECT_TRUE(Eventually([&] { return Indexed(*library, folder + "/inner/a.jpg"); }));
  EXPECT_TRUE(Eventually([&] { return Indexed(*library, folder + "/b.jpg"); }));
  EXPECT_TRUE(Eventually([&] { return watcher->stats().rescans >= 2; }));
  watcher->Stop();
  watcher->Stop();  // twice is harmless
}

TEST(WatcherTest, AMissingFolderIsRefused) {
  auto library = ValueOrDie(Library::Open(MakeTempDir() + "/lib"));
  auto watcher = Watcher::Start(*library, Quick(MakeTempDir() + "/no-such-folder"));
  EXPECT_EQ(watcher.status().code(), StatusCode::kNotFound) << watcher.status().ToString();
}

}  // namespace
}  // namespace imgsearch
