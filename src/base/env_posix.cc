// The default Env, backed by POSIX file calls.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

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

class PosixEnv final : public Env {
 public:
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

Result<std::unique_ptr<MappedFile>> Env::MapFile(const std::string& path) {
  IMGSEARCH_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path, uint64_t{1} << 40));
  return std::unique_ptr<MappedFile>(new FileInMemory(std::move(bytes)));
}

Env* Env::Default() {
  static PosixEnv env;
  return &env;
}

}  // namespace imgsearch::base
