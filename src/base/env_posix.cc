// The default Env, backed by POSIX file calls.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>

#include "base/env.h"

namespace imgsearch::base {

Status ErrnoStatus(const std::string& what, const std::string& path, int err) {
  std::string message = path + ": " + what + ": " + std::strerror(err);
  if (err == ENOENT) return Status::NotFound(message);
  if (err == ENOSPC || err == EDQUOT) return Status::NoSpace(message);
  return Status::IOError(message);
}

namespace {

// Closes a file descriptor when it goes out of scope.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

Status WriteAll(int fd, const char* data, size_t size, const std::string& path) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("write failed", path, errno);
    data += n;
    size -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status SyncDirectoryOf(const std::string& path) {
  size_t slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  if (dir.empty()) dir = "/";
  FdCloser fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoStatus("cannot open directory", dir, errno);
  if (::fsync(fd.get()) != 0) return ErrnoStatus("fsync failed", dir, errno);
  return Status::Ok();
}

// flock() locks belong to the open file: closing the descriptor releases it.
class PosixFileLock final : public FileLock {
 public:
  explicit PosixFileLock(int fd) : fd_(fd) {}
  ~PosixFileLock() override { ::close(fd_); }

 private:
  int fd_;
};

class Mapping final : public MappedFile {
 public:
  Mapping(void* address, size_t size) : address_(address), size_(size) {}
  ~Mapping() override {
    if (size_ > 0) ::munmap(address_, size_);
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  std::string_view contents() const override {
    return size_ == 0 ? std::string_view() : std::string_view(static_cast<char*>(address_), size_);
  }

 private:
  void* address_;
  size_t size_;
};

// File systems whose changes made by other machines inotify never hears of.
bool IsNetworkFileSystem(const std::string& dir) {
  struct statfs fs {};
  if (::statfs(dir.c_str(), &fs) != 0) return false;
  switch (static_cast<uint64_t>(fs.f_type) & 0xffffffffu) {
    case 0x6969:      // NFS
    case 0x517B:      // SMB
    case 0xFF534D42:  // CIFS
    case 0xFE534D42:  // SMB2
    case 0x65735546:  // FUSE (sshfs, rclone mounts, ...)
    case 0x01021997:  // 9p
    case 0x00C36400:  // Ceph
      return true;
    default:
      return false;
  }
}

// inotify, one watch per folder; an eventfd wakes a waiting reader.
class InotifyWatch final : public FileWatch {
 public:
  InotifyWatch(int fd, int wake_fd) : fd_(fd), wake_fd_(wake_fd) {}
  ~InotifyWatch() override {
    ::close(fd_);
    ::close(wake_fd_);
  }

  Status Add(const std::string& dir) override {
    if (IsNetworkFileSystem(dir))
      return Status::Unsupported(dir + ": a network file system: changes are found by rescans");
    constexpr uint32_t kMask = IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | IN_MOVED_FROM |
                               IN_MOVED_TO | IN_DELETE | IN_ONLYDIR | IN_EXCL_UNLINK;
    int wd = ::inotify_add_watch(fd_, dir.c_str(), kMask);
    if (wd < 0 && errno == ENOSPC)
      return Status::ResourceExhausted(dir +
                                       ": the system's limit of inotify watches is reached "
                                       "(/proc/sys/fs/inotify/max_user_watches)");
    if (wd < 0) return ErrnoStatus("cannot watch", dir, errno);
    std::lock_guard<std::mutex> lock(mutex_);
    Forget(wd);  // a folder renamed and added again keeps its watch: under the new name
    dirs_[wd] = dir;
    wds_[dir] = wd;
    return Status::Ok();
  }

  void Remove(const std::string& dir) override {
    std::lock_guard<std::mutex> lock(mutex_);
    auto drop = [this](std::map<std::string, int>::iterator it) {
      ::inotify_rm_watch(fd_, it->second);
      dirs_.erase(it->second);
      return wds_.erase(it);
    };
    if (auto it = wds_.find(dir); it != wds_.end()) drop(it);
    const std::string prefix = dir + "/";  // the folders inside, next to each other by name
    for (auto it = wds_.lower_bound(prefix);
         it != wds_.end() && it->first.compare(0, prefix.size(), prefix) == 0;)
      it = drop(it);
  }

  size_t size() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return dirs_.size();
  }

  bool Watching(const std::string& dir) const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return wds_.count(dir) > 0;
  }

  Status Wait(int timeout_ms, std::vector<WatchEvent>* events) override {
    pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    int ready = ::poll(fds, 2, timeout_ms);
    if (ready < 0 && errno == EINTR) return Status::Ok();
    if (ready < 0) return ErrnoStatus("poll failed", "inotify", errno);
    if (fds[1].revents & POLLIN) {
      uint64_t count = 0;
      ssize_t n = ::read(wake_fd_, &count, sizeof(count));
      (void)n;
    }
    if (!(fds[0].revents & POLLIN)) return Status::Ok();
    alignas(inotify_event) char buffer[64 * 1024];
    ssize_t length = ::read(fd_, buffer, sizeof(buffer));
    if (length < 0 && (errno == EINTR || errno == EAGAIN)) return Status::Ok();
    if (length < 0) return ErrnoStatus("read failed", "inotify", errno);
    std::lock_guard<std::mutex> lock(mutex_);
    for (ssize_t at = 0; at < length;) {
      const auto* e = reinterpret_cast<const inotify_event*>(buffer + at);
      at += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
      Translate(*e, events);
    }
    return Status::Ok();
  }

  void Wake() override {
    uint64_t one = 1;
    ssize_t n = ::write(wake_fd_, &one, sizeof(one));
    (void)n;
  }

 private:
  // Called with mutex_ held.
  void Translate(const inotify_event& e, std::vector<WatchEvent>* events) {
    if (e.mask & IN_Q_OVERFLOW) {
      events->push_back({WatchEvent::Kind::kOverflow, "", false});
      return;
    }
    if (e.mask & IN_IGNORED) {  // the folder is gone, or its watch was removed
      Forget(e.wd);
      return;
    }
    auto dir = dirs_.find(e.wd);
    if (dir == dirs_.end() || e.len == 0) return;
    WatchEvent out;
    out.path = dir->second + "/" + e.name;
    out.is_directory = (e.mask & IN_ISDIR) != 0;
    if (e.mask & (IN_DELETE | IN_MOVED_FROM)) {
      out.kind = WatchEvent::Kind::kRemoved;
    } else if (e.mask & IN_MOVED_TO) {
      out.kind = WatchEvent::Kind::kMovedIn;
    } else if (e.mask & IN_CLOSE_WRITE) {
      out.kind = WatchEvent::Kind::kClosed;
    } else if (e.mask & IN_ATTRIB) {
      out.kind = WatchEvent::Kind::kTouched;
    } else {
      out.kind = WatchEvent::Kind::kWritten;
    }
    events->push_back(std::move(out));
  }

  // Forgets watch descriptor `wd` (called with mutex_ held).
  void Forget(int wd) {
    auto it = dirs_.find(wd);
    if (it == dirs_.end()) return;
    auto back = wds_.find(it->second);
    if (back != wds_.end() && back->second == wd) wds_.erase(back);
    dirs_.erase(it);
  }

  const int fd_;
  const int wake_fd_;
  mutable std::mutex mutex_;
  std::map<int, std::string> dirs_;  // watch descriptor -> folder
  std::map<std::string, int> wds_;   // folder -> watch descriptor: the same, the other way
};

class PosixEnv final : public Env {
 public:
  Result<FileStat> Stat(const std::string& path) override {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return ErrnoStatus("cannot stat", path, errno);
    FileStat out;
    out.is_link = S_ISLNK(st.st_mode);
    if (out.is_link && ::stat(path.c_str(), &st) != 0)
      return ErrnoStatus("cannot stat", path, errno);
    out.is_directory = S_ISDIR(st.st_mode);
    out.is_regular = S_ISREG(st.st_mode);
    out.size = static_cast<int64_t>(st.st_size);
    out.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    return out;
  }

  Result<std::unique_ptr<FileWatch>> NewFileWatch() override {
    int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) return ErrnoStatus("cannot start inotify", "inotify", errno);
    int wake = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake < 0) {
      int err = errno;
      ::close(fd);
      return ErrnoStatus("cannot create an eventfd", "inotify", err);
    }
    return std::unique_ptr<FileWatch>(new InotifyWatch(fd, wake));
  }

  Result<std::unique_ptr<MappedFile>> MapFile(const std::string& path) override {
    FdCloser fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return ErrnoStatus("cannot open", path, errno);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return ErrnoStatus("cannot stat", path, errno);
    if (!S_ISREG(st.st_mode)) return Status::InvalidArgument(path + ": not a regular file");
    size_t size = static_cast<size_t>(st.st_size);
    if (size == 0) return std::unique_ptr<MappedFile>(new Mapping(nullptr, 0));
    void* address = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
    if (address == MAP_FAILED) return ErrnoStatus("cannot map", path, errno);
    return std::unique_ptr<MappedFile>(new Mapping(address, size));
  }

  Result<std::string> ReadFile(const std::string& path, uint64_t max_bytes) override {
    FdCloser fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return ErrnoStatus("cannot open", path, errno);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return ErrnoStatus("cannot stat", path, errno);
    if (S_ISDIR(st.st_mode)) return Status::InvalidArgument(path + ": is a directory");
    if (static_cast<uint64_t>(st.st_size) > max_bytes) {
      return Status::ResourceExhausted(path + ": file is " + std::to_string(st.st_size) +
                                       " bytes, over the limit of " + std::to_string(max_bytes));
    }
    // Files under /proc report a size of 0: those are read until their end.
    bool size_known = st.st_size > 0;
    std::string contents(size_known ? static_cast<size_t>(st.st_size)
                                    : static_cast<size_t>(std::min<uint64_t>(4096, max_bytes + 1)),
                         '\0');
    size_t filled = 0;
    for (;;) {
      if (filled == contents.size()) {
        if (size_known) break;
        if (contents.size() > max_bytes)
          return Status::ResourceExhausted(path + ": over the limit of " +
                                           std::to_string(max_bytes) + " bytes");
        contents.resize(std::min<uint64_t>(contents.size() * 2, max_bytes + 1));
      }
      ssize_t n = ::read(fd.get(), contents.data() + filled, contents.size() - filled);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return ErrnoStatus("read failed", path, errno);
      if (n == 0) break;  // the end (or the file shrank while we read it)
      filled += static_cast<size_t>(n);
    }
    contents.resize(filled);
    return contents;
  }

  Status WriteFileAtomic(const std::string& path, const std::string& contents) override {
    return WritePiecesAtomic(path, std::vector<std::string_view>{contents});
  }

  Status WritePiecesAtomic(const std::string& path,
                           const std::vector<std::string_view>& pieces) override {
    std::string temp = path + ".tmp";
    {
      FdCloser fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
      if (fd.get() < 0) return ErrnoStatus("cannot create", temp, errno);
      Status written;
      for (std::string_view piece : pieces) {
        if (written.ok()) written = WriteAll(fd.get(), piece.data(), piece.size(), temp);
      }
      if (written.ok() && ::fsync(fd.get()) != 0)
        written = ErrnoStatus("fsync failed", temp, errno);
      if (!written.ok()) {
        ::unlink(temp.c_str());
        return written;
      }
    }
    if (::rename(temp.c_str(), path.c_str()) != 0) {
      int err = errno;
      ::unlink(temp.c_str());
      return ErrnoStatus("rename failed", path, err);
    }
    return SyncDirectoryOf(path);
  }

  Result<uint64_t> FileSize(const std::string& path) override {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return ErrnoStatus("cannot stat", path, errno);
    return static_cast<uint64_t>(st.st_size);
  }

  bool FileExists(const std::string& path) override {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
  }

  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      return ErrnoStatus("cannot remove", path, errno);
    return Status::Ok();
  }

  Status CreateDirs(const std::string& path) override {
    std::error_code error;
    std::filesystem::create_directories(path, error);
    if (error) return ErrnoStatus("cannot create the folder", path, error.value());
    return Status::Ok();
  }

  Result<std::vector<std::string>> ListDir(const std::string& path) override {
    DIR* dir = ::opendir(path.c_str());
    if (dir == nullptr) return ErrnoStatus("cannot list", path, errno);
    std::vector<std::string> names;
    while (const dirent* entry = ::readdir(dir)) {
      std::string name = entry->d_name;
      if (name != "." && name != "..") names.push_back(std::move(name));
    }
    ::closedir(dir);
    return names;
  }

  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path, bool wait) override {
    FdCloser fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (fd.get() < 0) return ErrnoStatus("cannot open the lock file", path, errno);
    int result;
    do {
      result = ::flock(fd.get(), LOCK_EX | (wait ? 0 : LOCK_NB));
    } while (result != 0 && errno == EINTR);
    if (result != 0 && errno == EWOULDBLOCK)
      return Status::ResourceExhausted(path + ": held by another process");
    if (result != 0) return ErrnoStatus("cannot lock", path, errno);
    return std::unique_ptr<FileLock>(new PosixFileLock(fd.release()));
  }
};

}  // namespace

namespace {

// MappedFile for Envs that do not map: the bytes read into memory.
class FileInMemory final : public MappedFile {
 public:
  explicit FileInMemory(std::string bytes) : bytes_(std::move(bytes)) {}
  std::string_view contents() const override { return bytes_; }

 private:
  std::string bytes_;
};

}  // namespace

Status Env::WritePiecesAtomic(const std::string& path,
                              const std::vector<std::string_view>& pieces) {
  std::string joined;
  for (std::string_view piece : pieces) joined.append(piece);
  return WriteFileAtomic(path, joined);
}

Result<FileStat> Env::Stat(const std::string& path) {
  return Status::Unsupported(path + ": this Env cannot stat files");
}

Result<std::unique_ptr<FileWatch>> Env::NewFileWatch() {
  return Status::Unsupported("this Env cannot watch folders");
}

Result<std::unique_ptr<MappedFile>> Env::MapFile(const std::string& path) {
  IMGSEARCH_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path, uint64_t{1} << 40));
  return std::unique_ptr<MappedFile>(new FileInMemory(std::move(bytes)));
}

Env* Env::Default() {
  static PosixEnv env;
  return &env;
}

}  // namespace imgsearch::base
