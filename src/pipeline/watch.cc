// The watcher: a reader thread turns notifications into pending files (and watches new
// folders as they appear), a worker thread hands what is ready to the library in batches
// and runs the rescans. Indexing, change detection and pruning are Library::Index's; the
// watcher only decides what to look at and when.
#include "pipeline/watch.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "base/log.h"
#include "pipeline/images.h"
#include "pipeline/ingest.h"
#include "pipeline/shard.h"
#include "pipeline/watch_pending.h"
#include "store/filter.h"

namespace imgsearch::pipeline {
namespace {

namespace fs = std::filesystem;
using Kind = base::WatchEvent::Kind;

// A LIKE pattern matching every path under `dir`.
std::string UnderPattern(const std::string& dir) {
  std::string pattern;
  for (char c : dir) {
    if (c == '%' || c == '_' || c == '\\') pattern += '\\';
    pattern += c;
  }
  return pattern + "/%";
}

class WatcherImpl final : public Watcher {
 public:
  WatcherImpl(Library& library, WatchOptions options, base::Env* env)
      : library_(library), options_(std::move(options)), env_(env), pending_(options_) {}
  ~WatcherImpl() override { Stop(); }

  Status Begin() {
    for (std::string& folder : options_.folders) {
      folder = NormalRoot(folder);
      Result<base::FileStat> st = env_->Stat(folder);
      if (!st.ok()) return st.status().WithContext("cannot watch");
      if (!st->is_directory) return Status::InvalidArgument(folder + ": not a folder");
    }
    auto watch = env_->NewFileWatch();
    if (watch.ok()) {
      watch_ = std::move(watch).value();
    } else {
      IMGSEARCH_LOG_WARN("watch: no change notification ({}); the folders are rescanned every {} s",
                         watch.status().message(), options_.poll_seconds);
    }
    // Folders are watched before anything is scanned: a change made during the scan is
    // heard of, not lost between the two.
    for (const std::string& folder : options_.folders) WalkFolders(folder, Files::kLeave);
    if (watch_) reader_ = std::thread([this] { ReadLoop(); });
    worker_ = std::thread([this] { WorkLoop(); });
    return Status::Ok();
  }

  WatchStats stats() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    WatchStats s = stats_;
    s.pending = pending_.size();
    s.unwatched = unwatched_.size();
    s.watched = watch_ ? watch_->size() : 0;
    return s;
  }

  void Stop() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    if (watch_) watch_->Wake();
    if (reader_.joinable()) reader_.join();
    if (worker_.joinable()) worker_.join();
  }

 private:
  double Now() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

  // What a walk does with the image files it finds.
  enum class Files {
    kLeave,     // nothing (a rescan's Index looks at them)
    kSettle,    // pending, once settled (a folder just created: a copy may be under way)
    kComplete,  // pending, complete (a folder renamed into place)
  };

  // Watches `dir` and the folders inside it.
  void WalkFolders(const std::string& dir, Files files) {
    (void)WalkImageFiles(
        env_, dir,
        [this](const std::string& folder) {
          AddWatch(folder);
          return !stop_;
        },
        [&](const std::string& path, const base::FileStat&) {
          if (files == Files::kLeave) return;
          std::lock_guard<std::mutex> lock(mutex_);
          if (files == Files::kSettle) {
            pending_.Found(path, Now());
          } else {
            pending_.Heard({Kind::kMovedIn, path, false}, Now());
          }
        });  // folders that cannot be listed: the rescan reports them
  }

  void AddWatch(const std::string& folder) {
    Status added = Status::Unsupported("no change notification");
    if (watch_ && watch_->Watching(folder)) {
      added = Status::Ok();
    } else if (watch_ && options_.max_watches > 0 && watch_->size() >= options_.max_watches) {
      added = Status::ResourceExhausted("the watcher's limit of " +
                                        std::to_string(options_.max_watches) + " watches");
    } else if (watch_) {
      added = watch_->Add(folder);
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (added.ok()) {
      unwatched_.erase(folder);
      return;
    }
    if (unwatched_.insert(folder).second &&
        (unwatched_.size() == 1 || unwatched_.size() % 1000 == 0)) {
      IMGSEARCH_LOG_WARN(
          "watch: {} folder(s) not watched ({}); falling back to a rescan every {} s for them",
          unwatched_.size(), added.message(), options_.poll_seconds);
    }
  }

  // A folder went away: its watches and its place among the unwatched go with it.
  void ForgetFolder(const std::string& dir) {
    if (watch_) watch_->Remove(dir);
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = unwatched_.lower_bound(dir); it != unwatched_.end();) {
      if (*it != dir && it->rfind(dir + "/", 0) != 0) break;
      it = unwatched_.erase(it);
    }
  }

  void ReadLoop() {
    std::vector<base::WatchEvent> events;
    while (!stop_) {
      events.clear();
      Status waited = watch_->Wait(500, &events);
      if (!waited.ok()) {
        IMGSEARCH_LOG_ERROR("watch: {}; falling back to rescans", waited.message());
        std::lock_guard<std::mutex> lock(mutex_);
        ++stats_.failed;
        unwatched_.insert(options_.folders.begin(), options_.folders.end());
        return;
      }
      for (const base::WatchEvent& event : events) Take(event);
      if (!events.empty()) wake_.notify_all();
    }
  }

  void Take(const base::WatchEvent& event) {
    if (event.kind == Kind::kOverflow) {
      IMGSEARCH_LOG_WARN("watch: the notification queue overflowed; rescanning the folders");
      std::lock_guard<std::mutex> lock(mutex_);
      ++stats_.overflows;
      rescan_requested_ = true;
      return;
    }
    if (event.is_directory && event.kind == Kind::kRemoved) ForgetFolder(event.path);
    if (event.is_directory && event.kind == Kind::kWritten) WalkFolders(event.path, Files::kSettle);
    if (event.is_directory && event.kind == Kind::kMovedIn)
      WalkFolders(event.path, Files::kComplete);
    std::lock_guard<std::mutex> lock(mutex_);
    pending_.Heard(event, Now());
  }

  void WorkLoop() {
    if (options_.catch_up) Rescan("catching up with changes made while nothing watched");
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stats_.caught_up = true;
    }
    double last_rescan = Now();
    while (true) {
      ReadyFiles ready;
      bool rescan = false;
      const char* why = "the periodic rescan";
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait_for(lock, std::chrono::milliseconds(100));
        if (stop_) return;
        double period = unwatched_.empty() ? options_.rescan_seconds : options_.poll_seconds;
        if (!unwatched_.empty()) why = "polling the folders not watched";
        if (rescan_requested_) why = "notifications were lost";
        rescan = std::exchange(rescan_requested_, false) ||
                 (period > 0 && Now() - last_rescan >= period);
        if (!rescan) {
          ready = pending_.TakeReady(
              Now(), [this](const std::string& p) { return env_->Stat(p); }, options_.batch_files);
        }
      }
      if (rescan) {
        Rescan(why);
        last_rescan = Now();
      }
      if (!ready.empty()) Apply(ready);
    }
  }

  bool Settled(const std::string& path, int64_t mtime_ns) {
    const int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    if (now_ns - mtime_ns < static_cast<int64_t>(options_.settle_seconds * 1e9)) return false;
    std::lock_guard<std::mutex> lock(mutex_);
    return !pending_.BeingWritten(path);
  }

  // Every folder against the library, by Library::Index (unchanged files skipped, images
  // of files gone pruned); files that may still be written to are left to settle.
  void Rescan(const char* why) {
    IMGSEARCH_LOG_INFO("watch: rescanning {} folder(s): {}", options_.folders.size(), why);
    for (const std::string& folder : options_.folders) WalkFolders(folder, Files::kLeave);
    IndexOptions index;
    index.paths = options_.folders;
    index.prune = true;
    index.prune_only_under_paths = true;
    index.defer = [this](const std::string& path, int64_t mtime_ns) {
      return !Settled(path, mtime_ns);
    };
    index.cancelled = [this] { return stop_.load(); };
    Result<IndexReport> report = library_.Index(index);
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.rescans;
    if (!report.ok()) {
      ++stats_.failed;
      IMGSEARCH_LOG_ERROR("watch: the rescan failed: {}", report.status().message());
      return;
    }
    Count(*report);
    for (const std::string& path : report->deferred) pending_.Found(path, Now());
    IMGSEARCH_LOG_INFO(
        "watch: rescanned {} files in {:.1f} s: {} added, {} updated, {} moved, {} removed, {} "
        "failed, {} left to settle",
        report->scanned, report->seconds, report->added, report->updated, report->moved,
        report->pruned, report->failures.size(), report->deferred.size());
  }

  // Called with mutex_ held.
  void Count(const IndexReport& report) {
    stats_.indexed += report.added + report.updated;
    stats_.removed += report.pruned;
    stats_.moved += report.moved;
    stats_.failed += report.failures.size();
    for (size_t i = 0; i < std::min<size_t>(report.failures.size(), 10); ++i) {
      IMGSEARCH_LOG_WARN("watch: {}: {}", report.failures[i].path, report.failures[i].reason);
    }
  }

  // One batch: the files to index first, then the images whose file went away, so that a
  // file renamed or moved is found again first and keeps its image (id, vectors, user
  // fields) instead of being removed and embedded anew.
  void Apply(const ReadyFiles& ready) {
    auto start = std::chrono::steady_clock::now();
    IndexReport report;
    Status indexed = Status::Ok();
    if (!ready.index.empty()) {
      IndexOptions index;
      index.paths = ready.index;
      index.cancelled = [this] { return stop_.load(); };
      Result<IndexReport> done = library_.Index(index);
      if (done.ok()) report = std::move(done).value();
      indexed = done.status();
    }
    Result<int64_t> removed = int64_t{0};
    Result<std::vector<int64_t>> gone = ImagesGone(ready);
    if (!gone.ok()) removed = gone.status();
    if (gone.ok() && !gone->empty()) removed = library_.RemoveImages(*gone);
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.batches;
    if (removed.ok()) stats_.removed += static_cast<uint64_t>(*removed);
    if (!removed.ok()) {
      ++stats_.failed;
      IMGSEARCH_LOG_ERROR("watch: removing images of files gone: {}", removed.status().message());
    }
    if (!indexed.ok()) {
      ++stats_.failed;
      IMGSEARCH_LOG_ERROR("watch: indexing {} files: {} (tried again later)", ready.index.size(),
                          indexed.message());
      for (const std::string& path : ready.index) pending_.Found(path, Now());
      return;
    }
    Count(report);
    IMGSEARCH_LOG_INFO(
        "watch: {} added, {} updated, {} moved, {} removed, {} failed in {:.2f} s; {} pending",
        report.added, report.updated, report.moved, removed.ok() ? *removed : 0,
        report.failures.size(), seconds, pending_.size());
  }

  // The ids of the images of files and folders gone, checked against the disk once more
  // (a LIKE pattern may match more than the folder, and a path may have come back).
  Result<std::vector<int64_t>> ImagesGone(const ReadyFiles& ready) {
    std::vector<std::string> filters = InFilters("path", ready.removed);
    for (const std::string& dir : ready.removed_dirs)
      filters.push_back("path like " + store::QuoteFilterLiteral(UnderPattern(dir)));
    std::vector<int64_t> gone;
    for (const std::string& filter : filters) {
      IMGSEARCH_ASSIGN_OR_RETURN(std::vector<int64_t> ids, library_.FindImages(filter));
      if (ids.empty()) continue;
      IMGSEARCH_ASSIGN_OR_RETURN(std::vector<ImageInfo> images, library_.GetImages(ids));
      for (const ImageInfo& image : images) {
        if (FileGone(env_, image.path)) gone.push_back(image.id);
      }
    }
    return gone;
  }

  Library& library_;
  WatchOptions options_;
  base::Env* const env_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::unique_ptr<base::FileWatch> watch_;  // null: no notification, rescans only

  mutable std::mutex mutex_;  // guards what follows
  std::condition_variable wake_;
  PendingFiles pending_;
  std::set<std::string> unwatched_;  // folders no watch covers: polled by rescans
  bool rescan_requested_ = false;
  WatchStats stats_;

  std::atomic<bool> stop_{false};
  std::thread reader_;
  std::thread worker_;
};

}  // namespace

Result<std::unique_ptr<Watcher>> StartWatcher(Library& library, const WatchOptions& options,
                                              base::Env* env) {
  if (options.folders.empty()) return Status::InvalidArgument("no folder to watch");
  auto watcher = std::make_unique<WatcherImpl>(library, options, env);
  IMGSEARCH_RETURN_IF_ERROR(watcher->Begin());
  return std::unique_ptr<Watcher>(std::move(watcher));
}

}  // namespace imgsearch::pipeline

namespace imgsearch {

Result<std::unique_ptr<Watcher>> Watcher::Start(Library& library, const WatchOptions& options) {
  return pipeline::StartWatcher(library, options, base::Env::Default());
}

}  // namespace imgsearch
