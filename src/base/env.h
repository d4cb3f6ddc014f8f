// Env: the file system as seen by imgsearch. Everything that touches files goes through
// it, so tests can substitute an Env that injects failures (a full disk, a torn write).
// Env::Default() is thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "imgsearch/status.h"

namespace imgsearch::base {

// An advisory lock on a file, held until this object is destroyed.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

// The bytes of a whole file, mapped into memory read-only (or, from Envs that cannot map,
// read into it); valid until this object is destroyed.
class MappedFile {
 public:
  virtual ~MappedFile() = default;
  virtual std::string_view contents() const = 0;
};

// What Env::Stat says about a path (symbolic links followed).
struct FileStat {
  bool is_directory = false;
  bool is_regular = false;
  bool is_link = false;  // `path` itself is a symbolic link (the rest describes its target)
  int64_t size = 0;
  int64_t mtime_ns = 0;  // nanoseconds since the epoch
};

// One change a FileWatch saw in a watched folder.
struct WatchEvent {
  enum class Kind {
    kWritten,   // created or written to: its writer may still have it open
    kClosed,    // a writer closed it: complete, unless it is opened again
    kTouched,   // its attributes (mtime, permissions) changed, not its bytes
    kMovedIn,   // renamed into the folder: complete
    kRemoved,   // deleted, or renamed out of the folder
    kOverflow,  // changes were lost (the queue overflowed): look at every folder again
  };
  Kind kind = Kind::kWritten;
  std::string path;  // the watched folder's path + "/" + the name; empty for kOverflow
  bool is_directory = false;
};

// Change notification for folders (inotify on Linux). Each Add watches one folder, not
// the folders inside it. Add, Remove and Wait may be called from different threads; Wake
// from any thread.
class FileWatch {
 public:
  virtual ~FileWatch() = default;
  // Starts watching `dir` (again, under its new name after a rename). Fails with
  // kResourceExhausted when the system's limit of watches is reached, and kUnsupported
  // for a folder on a file system that reports no changes made by other machines (NFS,
  // SMB/CIFS, FUSE, 9p, Ceph): those are left to a rescan.
  virtual Status Add(const std::string& dir) = 0;
  // Stops watching `dir` and every watched folder inside it.
  virtual void Remove(const std::string& dir) = 0;
  // How many folders are watched, and whether `dir` is one of them.
  virtual size_t size() const = 0;
  virtual bool Watching(const std::string& dir) const = 0;
  // Waits up to timeout_ms for changes and appends them to *events; returns at once when
  // changes are waiting, and early when Wake is called.
  virtual Status Wait(int timeout_ms, std::vector<WatchEvent>* events) = 0;
  virtual void Wake() = 0;
};

class Env {
 public:
  virtual ~Env() = default;

  // The process-wide Env backed by POSIX calls.
  static Env* Default();

  // Reads a whole file. Fails with kResourceExhausted, without reading the contents, when
  // the file is larger than max_bytes.
  virtual Result<std::string> ReadFile(const std::string& path, uint64_t max_bytes) = 0;

  // The whole file without copying it: the default Env maps it (mmap), so a large file
  // costs no read pass and no second copy. Only for files replaced by rename, never
  // rewritten in place: truncating a mapped file would fault its reader. The base
  // version reads the file, for Envs that do not map.
  virtual Result<std::unique_ptr<MappedFile>> MapFile(const std::string& path);

  // Writes `contents` to `path` so that a crash leaves either the old file or the new one:
  // write to a temporary sibling, fsync, rename over `path`, fsync the directory.
  virtual Status WriteFileAtomic(const std::string& path, const std::string& contents) = 0;
  // The same for a file made of `pieces` in order, so that a large file (an index
  // snapshot) is written from where its bytes are, not first copied into one string. The
  // base version joins them and calls WriteFileAtomic, for Envs that inject failures there.
  virtual Status WritePiecesAtomic(const std::string& path,
                                   const std::vector<std::string_view>& pieces);

  virtual Result<uint64_t> FileSize(const std::string& path) = 0;
  virtual bool FileExists(const std::string& path) = 0;

  // Removes a file; a file that does not exist is not an error.
  virtual Status RemoveFile(const std::string& path) = 0;
  // Creates a folder and its parents; an existing folder is not an error.
  virtual Status CreateDirs(const std::string& path) = 0;
  // The names in a folder, without "." and "..", in no particular order.
  virtual Result<std::vector<std::string>> ListDir(const std::string& path) = 0;

  // The type, size and modification time of `path`; kNotFound when it does not exist. The
  // base version says kUnsupported.
  virtual Result<FileStat> Stat(const std::string& path);
  // A new, empty FileWatch. The base version says kUnsupported (the caller then rescans).
  virtual Result<std::unique_ptr<FileWatch>> NewFileWatch();

  // Takes an exclusive lock on `path` (created if missing) that excludes every other
  // holder, in this process or another, until the returned object is destroyed. Without
  // `wait`, fails at once with kResourceExhausted while someone else holds it. The
  // operating system releases it when the holder dies, even by SIGKILL.
  virtual Result<std::unique_ptr<FileLock>> LockFile(const std::string& path, bool wait) = 0;

  // The SQLite VFS (by its registered name) through which databases under this Env are
  // opened, so that SQLite's own I/O fails with the Env's; nullptr for SQLite's default.
  virtual const char* SqliteVfsName() const { return nullptr; }
};

// The Status for a failed system call on `path`: "PATH: WHAT: strerror". A full disk
// (ENOSPC, EDQUOT) is kNoSpace, a missing file kNotFound, anything else kIOError.
Status ErrnoStatus(const std::string& what, const std::string& path, int err);

}  // namespace imgsearch::base
