// Env: the file system as seen by imgsearch. Everything that touches files goes through
// it, so tests can substitute an Env that injects failures (a full disk, a torn write).
// Env::Default() is thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "imgsearch/status.h"

namespace imgsearch::base {

class Env {
 public:
  virtual ~Env() = default;

  // The process-wide Env backed by POSIX calls.
  static Env* Default();

  // Reads a whole file. Fails with kResourceExhausted, without reading the contents, when
  // the file is larger than max_bytes.
  virtual Result<std::string> ReadFile(const std::string& path, uint64_t max_bytes) = 0;

  // Writes `contents` to `path` so that a crash leaves either the old file or the new one:
  // write to a temporary sibling, fsync, rename over `path`, fsync the directory.
  virtual Status WriteFileAtomic(const std::string& path, const std::string& contents) = 0;

  virtual Result<uint64_t> FileSize(const std::string& path) = 0;
  virtual bool FileExists(const std::string& path) = 0;
};

}  // namespace imgsearch::base
